package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/config"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/logging"
	"github.com/actiongate/actiongate/internal/store"
)

// maintenance runs `keys`, `tokens` and `audit` against the configured
// database directly (safe while servers run). Settings come from the same flags
// and variables as serve; the command's own flags come first.
func maintenance(ctx context.Context, env Env) error {
	cmd := env.Args[0]
	if len(env.Args) < 2 {
		return fmt.Errorf("%s: a subcommand is required (see actiongate help)", cmd)
	}
	sub := env.Args[1]
	own := flag.NewFlagSet(cmd+" "+sub, flag.ContinueOnError)
	own.SetOutput(env.Stderr)
	name := own.String("name", "", "token name (tokens create)")
	scopes := own.String("scopes", "invoke", "comma-separated scopes: admin, invoke (tokens create)")
	user := own.String("user", "", "bind the token to one end user (tokens create); filter (audit)")
	expires := own.Int64("expires-in", 0, "token lifetime in seconds, 0 = never (tokens create)")
	action := own.String("action", "", "filter by action id (audit)")
	typ := own.String("type", "", "filter by event type (audit)")
	limit := own.Int("limit", 100, "at most this many events (audit)")
	rest, err := splitOwnFlags(own, env.Args[2:])
	if err != nil {
		return err
	}
	cfg, err := config.ParseWithOutput(rest, env.Getenv, env.Stderr)
	if err != nil {
		return err
	}
	ctx = gateway.WithActor(ctx, "cli")
	log := logging.New(env.Stderr, cfg.LogFormat, "warn")
	rt, err := open(ctx, cfg, log, env.Stdout, false)
	if err != nil {
		return err
	}
	defer rt.db.Close()
	tokens := apitoken.New(rt.db, rt.adminHash, nil)
	out := json.NewEncoder(env.Stdout)
	out.SetIndent("", "  ")

	switch cmd + " " + sub {
	case "keys rotate":
		res, err := rt.gw.RotateKeys(ctx)
		if err != nil {
			return err
		}
		if err := out.Encode(res); err != nil {
			return err
		}
		if len(res.Unopenable) > 0 {
			return fmt.Errorf("%d stored values are sealed under master keys that are not configured (%v): add those keys to ACTIONGATE_MASTER_KEY and rotate again", sum(res.Unopenable), res.Unopenable)
		}
		return nil
	case "keys status":
		by, err := rt.gw.KeyStatus(ctx)
		if err != nil {
			return err
		}
		return out.Encode(map[string]any{"primary_key": rt.keys.Primary(), "configured_keys": rt.keys.IDs(), "sealed_values_by_key": by})
	case "tokens create":
		t, err := tokens.Create(ctx, apitoken.CreateInput{Name: *name, Scopes: strings.Split(*scopes, ","), User: *user, ExpiresIn: *expires})
		if err != nil {
			return err
		}
		rt.gw.AuditEvent(ctx, gateway.EventTokenCreated, "", t.User, map[string]any{"token": t.ID, "name": t.Name, "scopes": t.Scopes})
		return out.Encode(t)
	case "tokens list":
		ts, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		return out.Encode(map[string]any{"tokens": ts})
	case "tokens revoke":
		if own.NArg() != 1 {
			return fmt.Errorf("tokens revoke: give one token id")
		}
		if err := tokens.Revoke(ctx, own.Arg(0)); err != nil {
			return err
		}
		rt.gw.AuditEvent(ctx, gateway.EventTokenRevoked, "", "", map[string]any{"token": own.Arg(0)})
		fmt.Fprintln(env.Stdout, "revoked", own.Arg(0))
		return nil
	case "audit list":
		es, err := rt.gw.Audit(ctx, store.AuditFilter{ActionID: *action, User: *user, Type: *typ, Limit: *limit})
		if err != nil {
			return err
		}
		return out.Encode(map[string]any{"events": es})
	}
	return fmt.Errorf("unknown command %q (see actiongate help)", cmd+" "+sub)
}

// splitOwnFlags parses the flags the subcommand knows and returns the others
// (settings flags such as --data-dir) for config.Parse. Positional arguments
// stay in own.Args().
func splitOwnFlags(own *flag.FlagSet, args []string) ([]string, error) {
	var mine, rest, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		n := strings.TrimLeft(a, "-")
		n, _, hasVal := strings.Cut(n, "=")
		dst := &rest
		if own.Lookup(n) != nil {
			dst = &mine
		}
		*dst = append(*dst, a)
		if !hasVal && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && !isBoolSetting(n) {
			*dst = append(*dst, args[i+1])
			i++
		}
	}
	if err := own.Parse(append(mine, pos...)); err != nil {
		return nil, err
	}
	return rest, nil
}

func isBoolSetting(name string) bool { return name == "allow-private-networks" }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
