// Command upstream is the benchmark's API: it answers every request that carries
// "Authorization: Bearer …" with the same ~200 bytes of JSON, and anything else
// with 401, so a proxy that forgot the header shows up as non-2xx answers in wrk.
// POST bodies are read and discarded.
//
//	go run ./bench/upstream -addr 127.0.0.1:9101
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// body is 200 bytes of JSON.
var body = []byte(`{"id":"42","name":"benchmark item","status":"available","tags":["alpha","beta","gamma"],"price":12.5,"stock":1000,"owner":{"id":"u-1","name":"Ada"},"updated_at":"2026-01-01T00:00:00Z","note":"xxxxxxxxxx"}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:9101", "listen address")
	flag.Parse()
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json"}
		hd["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	log.Printf("upstream listening on %s (%d-byte JSON)", *addr, len(body))
	log.Fatal(srv.ListenAndServe())
}
