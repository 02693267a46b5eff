// Command goproxy is the benchmark's baseline Go proxy: a bare
// net/http/httputil.ReverseProxy to one upstream that adds
// "Authorization: Bearer …". Its transport keeps up to 64 idle connections to
// the upstream (the same pool size as actiongate's, so neither side pays for
// reconnects); nothing else is tuned — this is what a Go proxy costs before any
// work on it.
//
//	go run ./bench/goproxy -addr 127.0.0.1:9103 -upstream http://127.0.0.1:9101
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9103", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:9101", "upstream base URL")
	token := flag.String("token", "bench-upstream-token", "bearer token to add")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	auth := "Bearer " + *token
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", auth)
		},
		Transport: tr,
	}
	srv := &http.Server{Addr: *addr, Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Printf("goproxy listening on %s → %s", *addr, target)
	log.Fatal(srv.ListenAndServe())
}
