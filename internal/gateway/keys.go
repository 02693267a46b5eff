package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
)

// MetaKeyCheck names the stored value that proves which master key the data
// was written with (see secrets.MakeCheck).
const MetaKeyCheck = "master_key_check"

// AuditEvent records an event on behalf of the HTTP layer (token events).
func (g *Gateway) AuditEvent(ctx context.Context, typ, actionID, user string, detail map[string]any) {
	g.audit(ctx, typ, actionID, user, detail)
}

// RotateResult reports a master-key rotation.
type RotateResult struct {
	Primary   string         `json:"primary_key"`
	Rewrapped int            `json:"rewrapped"`
	ByKey     map[string]int `json:"sealed_values_by_key"`
	// Unopenable counts, by key id, the values left as they were because
	// their master key is not configured: add it to ACTIONGATE_MASTER_KEY
	// and rotate again.
	Unopenable map[string]int `json:"unopenable,omitempty"`
}

// RotateKeys re-wraps every stored secret whose data key is wrapped by an older
// master key under the primary one (the data itself is not re-encrypted: only
// its 32-byte data key is). It is safe while the gateway serves — each value is
// replaced by compare-and-swap — and resumable: values already under the primary
// key are skipped, so running it again after a crash finishes the job. When
// ByKey lists only the primary key, older keys can be removed from the
// configuration.
func (g *Gateway) RotateKeys(ctx context.Context) (*RotateResult, error) {
	primary := g.keys.Primary()
	var unopenable map[string]int
	n, err := g.store.RewrapAll(ctx, func(ct []byte) ([]byte, bool, error) {
		id, err := g.keys.KeyID(ct)
		if err != nil {
			return nil, false, fmt.Errorf("a stored value is not a sealed secret: %w", err)
		}
		if id == primary {
			return nil, false, nil
		}
		nct, err := g.keys.Rewrap(ct)
		if errors.Is(err, secrets.ErrUnknownKey) {
			// One value under a key that is not configured must not stop the
			// rotation of all the others: it is left as it is, and counted.
			if unopenable == nil {
				unopenable = map[string]int{}
			}
			unopenable[id]++
			return nil, false, nil
		}
		return nct, err == nil, err
	})
	if err != nil {
		return nil, err
	}
	g.clearCaches() // they hold sealed values as they were
	check, err := g.store.GetMeta(ctx, MetaKeyCheck)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err == nil {
		if id, _ := g.keys.KeyID(check); id != primary {
			nc, err := g.keys.Rewrap(check)
			if err != nil {
				return nil, err
			}
			if err := g.store.PutMeta(ctx, MetaKeyCheck, nc); err != nil {
				return nil, err
			}
		}
	}
	by, err := g.KeyStatus(ctx)
	if err != nil {
		return nil, err
	}
	g.log.Info("master key rotation", "primary", primary, "rewrapped", n)
	if len(unopenable) > 0 {
		g.log.Warn("master key rotation left values sealed under master keys that are not configured; add them to ACTIONGATE_MASTER_KEY and rotate again", "by_key", unopenable)
	}
	g.audit(ctx, EventKeyRotated, "", "", map[string]any{"primary_key": primary, "rewrapped": n})
	return &RotateResult{Primary: primary, Rewrapped: n, ByKey: by, Unopenable: unopenable}, nil
}

// KeyStatus counts stored sealed values by the id of the master key that wraps
// them.
func (g *Gateway) KeyStatus(ctx context.Context) (map[string]int, error) {
	by := map[string]int{}
	_, err := g.store.RewrapAll(ctx, func(ct []byte) ([]byte, bool, error) {
		id, err := g.keys.KeyID(ct)
		if err != nil {
			id = "unreadable"
		}
		by[id]++
		return nil, false, nil
	})
	return by, err
}
