// Package config reads actiongate's settings from command-line flags and
// ACTIONGATE_* environment variables (a flag wins over its variable) and validates
// them, reporting every problem at once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config holds the settings of `actiongate serve`.
type Config struct {
	Addr                 string
	DataDir              string
	DatabaseURL          string
	PublicURL            string
	MasterKey            string // base64; environment only, never a flag (flags show in ps)
	MasterKeyFile        string
	AdminToken           string // environment only
	AllowPrivateNetworks bool
	UpstreamTimeout      time.Duration
	MaxResponseBytes     int64
	LogFormat            string  // "text" or "json"
	UserRate             float64 // requests per second per end user; 0 = no limit
	TokenRate            float64 // requests per second per API token; 0 = no limit
	LogLevel             string
	// PprofAddr, when set, serves net/http/pprof on a separate listener.
	PprofAddr string
	// MetricsToken, when set, is required as a bearer token on GET /metrics
	// (environment only).
	MetricsToken string
	// CacheTTL bounds how long actions (with their opened API keys) are trusted
	// in memory; 0 turns the caches off.
	CacheTTL time.Duration
	// CredentialCacheTTL bounds how long users' opened OAuth access tokens are
	// kept in memory; CredentialCacheAuto (unset) means CacheTTL with SQLite
	// (one process per database) and off with PostgreSQL.
	CredentialCacheTTL time.Duration
}

// CredentialCacheAuto is CredentialCacheTTL when the setting is not given.
const CredentialCacheAuto time.Duration = -1

// setting is one row of the settings table: a flag and the variable that backs it.
type setting struct {
	env, flag, def, usage string
	set                   func(c *Config, v string) error
}

var table = []setting{
	{"ACTIONGATE_ADDR", "addr", ":8080", "listen address",
		func(c *Config, v string) error { c.Addr = v; return nil }},
	{"ACTIONGATE_DATA_DIR", "data-dir", "./data", "folder for the SQLite database and a generated dev key",
		func(c *Config, v string) error { c.DataDir = v; return nil }},
	{"ACTIONGATE_DATABASE_URL", "database-url", "", "postgres://… to use PostgreSQL instead of SQLite",
		func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"ACTIONGATE_PUBLIC_URL", "public-url", "", "externally visible base URL; the OAuth callback is {public-url}/oauth/callback (default http://localhost:{the port of addr})",
		func(c *Config, v string) error { c.PublicURL = strings.TrimRight(v, "/"); return nil }},
	{"ACTIONGATE_MASTER_KEY", "", "", "the master key (base64, 32 bytes); several, comma-separated, during a rotation", func(c *Config, v string) error { c.MasterKey = v; return nil }},
	{"ACTIONGATE_MASTER_KEY_FILE", "master-key-file", "", "file holding the base64 master key",
		func(c *Config, v string) error { c.MasterKeyFile = v; return nil }},
	{"ACTIONGATE_ADMIN_TOKEN", "", "", "the admin API token; replaces the stored one (its hash) when set", func(c *Config, v string) error { c.AdminToken = v; return nil }},
	{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS", "allow-private-networks", "false", "let actions and token URLs reach loopback and private addresses (and plain http there)",
		func(c *Config, v string) (err error) { c.AllowPrivateNetworks, err = parseBool(v); return err }},
	{"ACTIONGATE_UPSTREAM_TIMEOUT", "upstream-timeout", "45s", "total time allowed for one upstream call",
		func(c *Config, v string) (err error) { c.UpstreamTimeout, err = time.ParseDuration(v); return err }},
	{"ACTIONGATE_MAX_RESPONSE_BYTES", "max-response-bytes", "10485760", "largest upstream response body accepted by invoke",
		func(c *Config, v string) (err error) {
			c.MaxResponseBytes, err = strconv.ParseInt(v, 10, 64)
			return err
		}},
	{"ACTIONGATE_USER_RATE", "user-rate", "10", "requests per second allowed per end user (burst twice that); 0 = no limit",
		func(c *Config, v string) (err error) { c.UserRate, err = strconv.ParseFloat(v, 64); return err }},
	{"ACTIONGATE_TOKEN_RATE", "token-rate", "0", "requests per second allowed per API token (burst twice that); 0 = no limit",
		func(c *Config, v string) (err error) { c.TokenRate, err = strconv.ParseFloat(v, 64); return err }},
	{"ACTIONGATE_LOG_FORMAT", "log-format", "text", "log format: text or json",
		func(c *Config, v string) error { c.LogFormat = v; return nil }},
	{"ACTIONGATE_LOG_LEVEL", "log-level", "info", "log level: debug, info, warn, error",
		func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"ACTIONGATE_PPROF_ADDR", "pprof-addr", "", "serve Go profiling (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060; off when empty",
		func(c *Config, v string) error { c.PprofAddr = v; return nil }},
	{"ACTIONGATE_METRICS_TOKEN", "", "", "when set, GET /metrics requires it as a bearer token", func(c *Config, v string) error { c.MetricsToken = v; return nil }},
	{"ACTIONGATE_CACHE_TTL", "cache-ttl", "5s", "how long actions are kept in memory; other replicas' changes show within it; 0 = no cache",
		func(c *Config, v string) (err error) { c.CacheTTL, err = time.ParseDuration(v); return err }},
	{"ACTIONGATE_CREDENTIAL_CACHE_TTL", "credential-cache-ttl", "auto", "how long users' opened OAuth access tokens are kept in memory: auto = the cache TTL with SQLite, off with PostgreSQL (where another replica's disconnect would show only after it); 0 = off",
		func(c *Config, v string) (err error) {
			if v == "auto" {
				c.CredentialCacheTTL = CredentialCacheAuto
				return nil
			}
			if c.CredentialCacheTTL, err = time.ParseDuration(v); err == nil && c.CredentialCacheTTL < 0 {
				err = errors.New("must not be negative")
			}
			return err
		}},
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use 1/true or 0/false)", v)
}

// Parse reads args (without the program and command names) and the environment
// through getenv. It returns every problem found, joined.
func Parse(args []string, getenv func(string) string) (*Config, error) {
	return ParseWithOutput(args, getenv, os.Stderr)
}

// ParseWithOutput is Parse writing usage and flag errors to out.
func ParseWithOutput(args []string, getenv func(string) string, out io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	flagVals := map[string]*string{}
	for _, s := range table {
		if s.flag == "" {
			continue
		}
		usage := s.usage + " (env " + s.env + ")"
		if s.flag == "allow-private-networks" {
			// A boolean flag: --allow-private-networks alone means true.
			v := new(string)
			fs.Func(s.flag, usage, func(x string) error { *v = x; return nil })
			flagVals[s.flag] = v
			fs.Lookup(s.flag).DefValue = s.def
			boolFlag(fs, s.flag, v)
			continue
		}
		flagVals[s.flag] = fs.String(s.flag, "", usage+" (default "+strconv.Quote(s.def)+")")
	}
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: actiongate %s [flags]\n\nFlags (each also read from the environment variable named):\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprintln(out, "\nEnvironment only (secrets are never flags, so that they stay out of process listings):")
		for _, s := range table {
			if s.flag == "" {
				fmt.Fprintf(out, "  %s\n    \t%s\n", s.env, s.usage)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err // flag.ErrHelp for -h: the caller exits 0
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	c := &Config{}
	var errs []error
	for _, s := range table {
		v, from := s.def, ""
		if e := getenv(s.env); e != "" {
			v, from = e, s.env
		}
		if s.flag != "" && set[s.flag] {
			v, from = *flagVals[s.flag], "--"+s.flag
		}
		if err := s.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", from, err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = localURL(c.Addr)
	}
	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
}

// localURL is the public URL of a gateway reached on this machine at its
// listen address: http://localhost:{port}, or the host when the address names
// one (127.0.0.1:9000 → http://127.0.0.1:9000), so that sign-in links and the
// callback follow a changed port without a second setting.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return "http://localhost:8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (c *Config) validate() []error {
	var errs []error
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q must be an absolute http(s) URL", c.PublicURL))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("public URL %q must not have a query or fragment", c.PublicURL))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("database URL must start with postgres://"))
	}
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, errors.New("upstream timeout must be positive"))
	}
	if c.MaxResponseBytes <= 0 {
		errs = append(errs, errors.New("max response bytes must be positive"))
	}
	if c.CacheTTL < 0 {
		errs = append(errs, errors.New("cache TTL must not be negative"))
	}
	if c.UserRate < 0 || c.TokenRate < 0 {
		errs = append(errs, errors.New("rates must not be negative"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q must be text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q must be debug, info, warn or error", c.LogLevel))
	}
	return errs
}

// boolFlag marks the flag as boolean so that "--flag" alone means true.
func boolFlag(fs *flag.FlagSet, name string, v *string) {
	f := fs.Lookup(name)
	f.Value = &boolValue{v}
}

type boolValue struct{ v *string }

func (b *boolValue) String() string {
	if b == nil || b.v == nil {
		return ""
	}
	return *b.v
}
func (b *boolValue) Set(s string) error { *b.v = s; return nil }
func (b *boolValue) IsBoolFlag() bool   { return true }

// CallbackURL is the one OAuth redirect URI for every action.
func (c *Config) CallbackURL() string { return c.PublicURL + "/oauth/callback" }
