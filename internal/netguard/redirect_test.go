package netguard

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// recordingServer redirects every path starting with /go/ to the URL after it
// (/go/http://host:port/x → Location: http://host:port/x) and records the
// credentials each other request carried.
type recordingServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct{ path, authorization, apiKey string }

func newRecordingServer(t *testing.T) *recordingServer {
	t.Helper()
	s := &recordingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if target, ok := strings.CutPrefix(r.URL.Path, "/go/"); ok {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, seenRequest{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")})
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *recordingServer) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

func (s *recordingServer) port() string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

// getWithCredentials sends GET rawURL with an Authorization and an X-Api-Key header.
func getWithCredentials(t *testing.T, c *http.Client, rawURL string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("X-Api-Key", "secret-key")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	resp.Body.Close()
	return resp
}

func TestSameHostRedirectKeepsCredentials(t *testing.T) {
	srv := newRecordingServer(t)
	c := NewClient(Policy{AllowPrivate: true})

	resp := getWithCredentials(t, c, srv.URL+"/go/"+srv.URL+"/end")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (the redirect followed)", resp.StatusCode)
	}
	want := []seenRequest{{"/end", "Bearer secret-token", "secret-key"}}
	if got := srv.requests(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("server saw %+v, want %+v", got, want)
	}
}

func TestCrossOriginRedirectNotFollowed(t *testing.T) {
	tests := []struct {
		name   string
		target func(origin, other *recordingServer) string
	}{
		{"other port", func(_, other *recordingServer) string {
			return other.URL + "/steal"
		}},
		{"other host name, other port", func(_, other *recordingServer) string {
			return "http://localhost:" + other.port() + "/steal"
		}},
		{"other host name, same server", func(origin, _ *recordingServer) string {
			return "http://localhost:" + origin.port() + "/steal"
		}},
		{"user info", func(origin, _ *recordingServer) string {
			return "http://user:pass@" + origin.Listener.Addr().String() + "/steal"
		}},
	}
	c := NewClient(Policy{AllowPrivate: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin, other := newRecordingServer(t), newRecordingServer(t)
			target := tt.target(origin, other)
			resp := getWithCredentials(t, c, origin.URL+"/go/"+target)
			if resp.StatusCode != http.StatusFound {
				t.Errorf("status = %d, want 302 returned as the answer", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != target {
				t.Errorf("Location = %q, want %q", loc, target)
			}
			if got := append(origin.requests(), other.requests()...); len(got) != 0 {
				t.Errorf("redirect target received %+v, want nothing", got)
			}
		})
	}
}

// TestRedirectLimit: with a limit of 2, the client follows /a → /b → /c and hands
// back the third redirect (to /d) unfollowed.
func TestRedirectLimit(t *testing.T) {
	srv := newRecordingServer(t)
	hop := func(path string) string { return "/go/" + srv.URL + path }
	c := &http.Client{Transport: NewTransport(Policy{AllowPrivate: true}), CheckRedirect: SameHostRedirects(2)}

	resp := getWithCredentials(t, c, srv.URL+hop(hop(hop("/d"))))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != srv.URL+"/d" {
		t.Errorf("got %d to %q, want 302 to %q", resp.StatusCode, resp.Header.Get("Location"), srv.URL+"/d")
	}
	if got := srv.requests(); len(got) != 0 {
		t.Errorf("server saw %+v past the limit, want nothing", got)
	}

	resp = getWithCredentials(t, c, srv.URL+hop(hop("/d")))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("two redirects: status %d, want 200", resp.StatusCode)
	}
}

func TestSameHostRedirects(t *testing.T) {
	tests := []struct {
		first, next string
		limit, hops int // hops: requests already made
		want        bool
	}{
		{"https://api.example.com/a", "https://api.example.com/b", 5, 1, true},
		{"https://API.example.com/a", "https://api.example.com:443/b", 5, 1, true},
		{"http://api.example.com/a", "http://api.example.com:80/b", 5, 1, true},
		{"https://api.example.com/a", "https://api.example.com/b", 5, 5, true},
		{"https://api.example.com/a", "https://api.example.com/b", 5, 6, false},
		{"https://api.example.com/a", "https://api.example.com/b", 0, 1, false},
		{"https://api.example.com/a", "http://api.example.com/b", 5, 1, false},
		{"https://api.example.com/a", "https://api.example.com:8443/b", 5, 1, false},
		{"https://api.example.com/a", "https://evil.api.example.com/b", 5, 1, false},
		{"https://api.example.com/a", "https://example.com/b", 5, 1, false},
		{"https://api.example.com/a", "https://api.example.com./b", 5, 1, false},
		{"https://api.example.com/a", "https://u:p@api.example.com/b", 5, 1, false},
	}
	for _, tt := range tests {
		first := &http.Request{URL: mustParse(t, tt.first)}
		via := make([]*http.Request, tt.hops)
		for i := range via {
			via[i] = first
		}
		err := SameHostRedirects(tt.limit)(&http.Request{URL: mustParse(t, tt.next)}, via)
		if got := err == nil; got != tt.want {
			t.Errorf("limit %d, %d hops, %s → %s: followed = %v, want %v", tt.limit, tt.hops, tt.first, tt.next, got, tt.want)
		}
		if err != nil && err != http.ErrUseLastResponse {
			t.Errorf("%s → %s: error %v, want http.ErrUseLastResponse", tt.first, tt.next, err)
		}
	}
}

// TestGoDropsAuthorizationAcrossHostNames pins the net/http behaviour the
// redirect policy does not rely on: with a follow-everything CheckRedirect, a
// redirect to another host name loses Authorization but still carries X-Api-Key.
// (It keeps Authorization across a port change on the same host name, too.)
func TestGoDropsAuthorizationAcrossHostNames(t *testing.T) {
	origin := newRecordingServer(t)
	other := newRecordingServer(t)
	c := &http.Client{Transport: NewTransport(Policy{AllowPrivate: true})}

	getWithCredentials(t, c, origin.URL+"/go/http://localhost:"+other.port()+"/steal")
	want := seenRequest{"/steal", "", "secret-key"}
	if got := other.requests(); len(got) != 1 || got[0] != want {
		t.Errorf("other host saw %+v, want [%+v]", got, want)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
