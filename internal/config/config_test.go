package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.PublicURL != "http://localhost:8080" || c.AllowPrivateNetworks {
		t.Fatalf("defaults: %+v", c)
	}
	if c.UpstreamTimeout != 45*time.Second || c.MaxResponseBytes != 10<<20 {
		t.Fatalf("limits: %+v", c)
	}
	if c.CallbackURL() != "http://localhost:8080/oauth/callback" {
		t.Fatal(c.CallbackURL())
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	e := env(map[string]string{
		"ACTIONGATE_ADDR":                   ":9000",
		"ACTIONGATE_PUBLIC_URL":             "https://gw.example.com/",
		"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1",
		"ACTIONGATE_MASTER_KEY":             "k",
		"ACTIONGATE_ADMIN_TOKEN":            "t",
	})
	c, err := Parse([]string{"--addr", "127.0.0.1:7000", "--data-dir=/tmp/x"}, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || c.DataDir != "/tmp/x" || c.PublicURL != "https://gw.example.com" ||
		!c.AllowPrivateNetworks || c.MasterKey != "k" || c.AdminToken != "t" {
		t.Fatalf("%+v", c)
	}
	c, err = Parse([]string{"--allow-private-networks=false"}, e)
	if err != nil || c.AllowPrivateNetworks {
		t.Fatalf("flag false should win: %v %+v", err, c)
	}
	c, err = Parse([]string{"--allow-private-networks"}, env(nil))
	if err != nil || !c.AllowPrivateNetworks {
		t.Fatalf("bare bool flag: %v %+v", err, c)
	}
}

func TestAllProblemsReported(t *testing.T) {
	_, err := Parse(nil, env(map[string]string{
		"ACTIONGATE_PUBLIC_URL":             "localhost:8080",
		"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "maybe",
		"ACTIONGATE_DATABASE_URL":           "mysql://x",
	}))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS", "public URL", "database URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCacheSettings(t *testing.T) {
	c, err := Parse(nil, env(nil))
	if err != nil || c.CacheTTL != 5*time.Second || c.CredentialCacheTTL != CredentialCacheAuto {
		t.Fatalf("defaults: %v %v %v", err, c.CacheTTL, c.CredentialCacheTTL)
	}
	c, err = Parse([]string{"--credential-cache-ttl=0", "--cache-ttl=1s"}, env(nil))
	if err != nil || c.CredentialCacheTTL != 0 || c.CacheTTL != time.Second {
		t.Fatalf("set: %v %+v", err, c)
	}
	_, err = Parse(nil, env(map[string]string{"ACTIONGATE_CREDENTIAL_CACHE_TTL": "-1s", "ACTIONGATE_CACHE_TTL": "-2s"}))
	if err == nil || !strings.Contains(err.Error(), "ACTIONGATE_CREDENTIAL_CACHE_TTL") || !strings.Contains(err.Error(), "cache TTL") {
		t.Fatalf("negative: %v", err)
	}
}

// TestPublicURLFollowsAddr: without a public URL, sign-in links and the
// callback point at the port the gateway listens on.
func TestPublicURLFollowsAddr(t *testing.T) {
	for addr, want := range map[string]string{
		":18080":         "http://localhost:18080",
		"0.0.0.0:9000":   "http://localhost:9000",
		"[::]:9001":      "http://localhost:9001",
		"127.0.0.1:9002": "http://127.0.0.1:9002",
		"[::1]:9003":     "http://[::1]:9003",
		"gw.local:9004":  "http://gw.local:9004",
		":0":             "http://localhost:8080",
	} {
		c, err := Parse([]string{"--addr", addr}, env(nil))
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if c.PublicURL != want {
			t.Errorf("--addr %s: public URL %s, want %s", addr, c.PublicURL, want)
		}
	}
	c, err := Parse([]string{"--addr", ":18080"}, env(map[string]string{"ACTIONGATE_PUBLIC_URL": "https://gw.example.com"}))
	if err != nil || c.PublicURL != "https://gw.example.com" {
		t.Fatalf("a set public URL is kept: %v %v", c.PublicURL, err)
	}
}
