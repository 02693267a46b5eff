// Package app wires actiongate together: it reads the settings, opens the store,
// loads the master key, bootstraps the admin token and runs the HTTP server until
// the context ends (SIGINT/SIGTERM in the binary), then shuts down gracefully.
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/config"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/logging"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/server"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/store/postgres"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

// Version is set at build time with -ldflags "-X ...app.Version=…".
var Version = "dev"

// Env is what Run needs from the process.
type Env struct {
	Args   []string // after the program name
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// Ready, if set, receives the listening address once the server accepts
	// connections (tests use it).
	Ready func(addr string)
}

const usage = `actiongate — a self-hosted gateway for AI assistants' API actions

Usage:
  actiongate serve [flags]   run the gateway (see "actiongate serve -h")
  actiongate migrate [flags] apply database migrations and exit (serve also does at start)
  actiongate keys rotate     re-wrap every stored secret under the first master key
  actiongate keys status     count stored secrets by the master key that wraps them
  actiongate tokens create --name N --scopes invoke[,admin] [--user U] [--expires-in S]
  actiongate tokens list | tokens revoke <id>
  actiongate audit list [--action A] [--user U] [--type T] [--limit N]
  (each also takes serve's settings flags, e.g. --data-dir, --database-url)
  actiongate version         print the version
`

// Run executes one command and returns when it is done.
func Run(ctx context.Context, env Env) error {
	if len(env.Args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return errors.New("no command")
	}
	switch env.Args[0] {
	case "serve":
		cfg, err := config.ParseWithOutput(env.Args[1:], env.Getenv, env.Stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		if err != nil {
			return err
		}
		return Serve(ctx, cfg, env)
	case "migrate":
		cfg, err := config.ParseWithOutput(env.Args[1:], env.Getenv, env.Stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		if err != nil {
			return err
		}
		db, _, err := openStore(ctx, cfg) // opening applies the migrations
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "database schema is up to date")
		return db.Close()
	case "keys", "tokens", "audit":
		if err := maintenance(ctx, env); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	case "version":
		fmt.Fprintln(env.Stdout, "actiongate", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	fmt.Fprint(env.Stderr, usage)
	return fmt.Errorf("unknown command %q", env.Args[0])
}

// Meta keys.
const (
	metaAdminHash = "admin_token_sha256"
)

// Serve runs the gateway with cfg until ctx ends.
func Serve(ctx context.Context, cfg *config.Config, env Env) error {
	log := logging.New(env.Stderr, cfg.LogFormat, cfg.LogLevel)
	gcPercent, memLimit := tuneGC(log)

	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
		release, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer release()
	}
	rt, err := open(ctx, cfg, log, env.Stdout, true)
	if err != nil {
		return err
	}
	defer rt.db.Close()
	gw := rt.gw
	handler := server.New(server.Options{Gateway: gw, DB: rt.db, Tokens: apitoken.New(rt.db, rt.adminHash, nil), Logger: log,
		UserRate: cfg.UserRate, TokenRate: cfg.TokenRate, Metrics: rt.metrics, MetricsToken: cfg.MetricsToken})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.PprofAddr != "" {
		if err := servePprof(ctx, cfg.PprofAddr, log); err != nil {
			ln.Close()
			return fmt.Errorf("pprof: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(handler.CloseStreams)
	log.Info("actiongate listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"oauth_callback", cfg.CallbackURL(), "version", Version, "allow_private_networks", cfg.AllowPrivateNetworks,
		"gogc", gcPercent, "memory_limit_mib", memLimit>>20)
	if env.Ready != nil {
		env.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go gw.RunSweeper(sweepCtx, gateway.DefaultSweepInterval)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

// checkMasterKey fails start-up when the key does not match the one the stored
// data was encrypted with, instead of producing garbage later.
func checkMasterKey(ctx context.Context, db store.Store, keys *secrets.Keyring) error {
	check, err := db.GetMeta(ctx, gateway.MetaKeyCheck)
	if errors.Is(err, store.ErrNotFound) {
		if check, err = secrets.MakeCheck(keys); err != nil {
			return err
		}
		return db.PutMeta(ctx, gateway.MetaKeyCheck, check)
	}
	if err != nil {
		return err
	}
	if err := secrets.VerifyCheck(keys, check); err != nil {
		return fmt.Errorf("%w: start with the master key this data folder was created with (ACTIONGATE_MASTER_KEY or ACTIONGATE_MASTER_KEY_FILE)", err)
	}
	return nil
}

// adminToken returns the hash of the admin API token. A token from the
// environment replaces the stored one; with none stored and none given, one is
// generated, printed once to out, and only its hash is kept.
func adminToken(ctx context.Context, db store.Store, fromEnv string, out io.Writer, log *slog.Logger) ([32]byte, error) {
	var h [32]byte
	if fromEnv != "" {
		if len(fromEnv) < 16 {
			return h, errors.New("ACTIONGATE_ADMIN_TOKEN must be at least 16 characters")
		}
		h = sha256.Sum256([]byte(fromEnv))
		stored, err := db.GetMeta(ctx, metaAdminHash)
		if err == nil && subtle.ConstantTimeCompare(stored, h[:]) == 1 {
			return h, nil
		}
		if err == nil {
			log.Warn("ACTIONGATE_ADMIN_TOKEN differs from the stored admin token: the stored one is replaced and no longer works")
		}
		return h, db.PutMeta(ctx, metaAdminHash, h[:])
	}
	stored, err := db.GetMeta(ctx, metaAdminHash)
	if err == nil && len(stored) == len(h) {
		copy(h[:], stored)
		return h, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return h, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return h, err
	}
	tok := "agt_" + base64.RawURLEncoding.EncodeToString(b)
	h = sha256.Sum256([]byte(tok))
	if err := db.PutMeta(ctx, metaAdminHash, h[:]); err != nil {
		return h, err
	}
	fmt.Fprintf(out, "\nGenerated an admin API token. It is shown only this once; store it now:\n\n    %s\n\nUse it as: Authorization: Bearer <token>\n\n", tok)
	return h, nil
}

// openStore opens PostgreSQL when a database URL is set, else the SQLite file
// in the data folder. With PostgreSQL, refreshes are coordinated across
// replicas by an advisory lock; with SQLite, in-process.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, gateway.Locker, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data folder: %w", err)
	}
	if cfg.DatabaseURL != "" {
		if cfg.MasterKey == "" && cfg.MasterKeyFile == "" {
			// Replicas generating keys into their own data folders would seal
			// shared data under different keys.
			return nil, nil, errors.New("with PostgreSQL, set ACTIONGATE_MASTER_KEY or ACTIONGATE_MASTER_KEY_FILE (the same on every replica)")
		}
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return db, db, nil
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "actiongate.db"))
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil, nil
}

// runtime is what serve and the maintenance commands share.
type runtime struct {
	db        store.Store
	keys      *secrets.Keyring
	adminHash [32]byte
	gw        *gateway.Gateway
	metrics   *metrics.Metrics
}

// open opens the store, loads and checks the master keys, bootstraps the admin
// token and builds the gateway.
// Only serve (admin true) sets the admin token: a maintenance command run with
// another environment must not replace or generate it.
func open(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer, admin bool) (*runtime, error) {
	db, locker, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*runtime, error) { db.Close(); return nil, err }
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return fail(fmt.Errorf("master key: %w", err))
	}
	if err := checkMasterKey(ctx, db, keys); err != nil {
		return fail(err)
	}
	var adminHash [32]byte
	if admin {
		if adminHash, err = adminToken(ctx, db, cfg.AdminToken, stdout, log); err != nil {
			return fail(err)
		}
	}
	m := metrics.New()
	cacheTTL := cfg.CacheTTL
	if cacheTTL == 0 {
		cacheTTL = -1 // off
	}
	credTTL := credentialCacheTTL(cfg)
	gw := gateway.New(gateway.Options{
		Store:              db,
		Keys:               keys,
		PublicURL:          cfg.PublicURL,
		AllowPrivate:       cfg.AllowPrivateNetworks,
		UpstreamTimeout:    cfg.UpstreamTimeout,
		MaxResponseBytes:   cfg.MaxResponseBytes,
		Logger:             log,
		Locker:             locker,
		Metrics:            m,
		CacheTTL:           cacheTTL,
		CredentialCacheTTL: credTTL,
	})
	return &runtime{db: db, keys: keys, adminHash: adminHash, gw: gw, metrics: m}, nil
}

// loadKeys reads the master keys. ACTIONGATE_MASTER_KEY (or the key file, one
// key per line) may hold several keys, comma- or newline-separated: the first
// wraps new secrets, the others still unwrap old ones — the state during a
// rotation.
func loadKeys(cfg *config.Config, log *slog.Logger) (*secrets.Keyring, error) {
	raw := cfg.MasterKey
	if cfg.MasterKeyFile != "" {
		b, err := os.ReadFile(cfg.MasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("master key file: %w", err)
		}
		raw = string(b)
	}
	parts := strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' })
	if len(parts) <= 1 {
		key, src, err := secrets.LoadMasterKey(secrets.LoadOptions{Env: cfg.MasterKey, File: cfg.MasterKeyFile, DataDir: cfg.DataDir})
		if err != nil {
			return nil, err
		}
		if src == secrets.SourceGenerated || src == secrets.SourceDataDir {
			log.Warn("using a master key stored in the data folder, next to the data it protects; for production set ACTIONGATE_MASTER_KEY or ACTIONGATE_MASTER_KEY_FILE",
				"file", filepath.Join(cfg.DataDir, secrets.KeyFileName), "generated", src == secrets.SourceGenerated)
		}
		return secrets.NewKeyring(key), nil
	}
	keys := make([]secrets.Key, len(parts))
	for i, p := range parts {
		k, err := secrets.ParseKey(p)
		if err != nil {
			return nil, fmt.Errorf("key %d of %d: %w", i+1, len(parts), err)
		}
		keys[i] = k
	}
	return secrets.NewKeyring(keys[0], keys[1:]...), nil
}

// credentialCacheTTL resolves "auto": the cache TTL with SQLite, where this
// process is the only one on the database (serve holds the folder's lock),
// and off with PostgreSQL, where another replica's sign-out would otherwise
// show here only after the TTL.
func credentialCacheTTL(cfg *config.Config) time.Duration {
	if cfg.CredentialCacheTTL != config.CredentialCacheAuto {
		return cfg.CredentialCacheTTL
	}
	if cfg.DatabaseURL == "" {
		return cfg.CacheTTL
	}
	return 0
}
