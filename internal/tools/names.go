package tools

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

const (
	maxName   = 64
	maxPrefix = 24
	hashLen   = 8 // hex digits
)

// ValidName is what every platform accepts as a tool name (OpenAI's rule, the strictest).
var ValidName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// AssignNames gives every tool a unique name (see the package doc). ts must be in a stable
// order — actions by creation time then id, operations in document order — because the first
// of several tools that want the same name keeps it.
func AssignNames(ts []Tool) {
	first := make(map[string]int, len(ts))
	for i := range ts {
		ts[i].Name = candidate(ts[i].ActionName, ts[i].ActionID, ts[i].Operation)
		if _, ok := first[ts[i].Name]; !ok {
			first[ts[i].Name] = i
		}
	}
	taken := make(map[string]bool, len(ts))
	for name := range first {
		taken[name] = true
	}
	for i := range ts {
		if first[ts[i].Name] == i {
			continue
		}
		base := baseName(ts[i].ActionName, ts[i].Operation)
		for n := 0; ; n++ {
			name := hashed(base, ts[i].ActionID, ts[i].Operation, n)
			if !taken[name] {
				taken[name] = true
				ts[i].Name = name
				break
			}
		}
	}
}

// candidate is the name a tool gets unless another tool took it first.
func candidate(actionName, actionID, opID string) string {
	base := baseName(actionName, opID)
	if len(base) <= maxName {
		return base
	}
	return hashed(base, actionID, opID, 0)
}

func baseName(actionName, opID string) string {
	return prefix(actionName) + "_" + opID
}

// prefix is the action's part of its tools' names.
func prefix(actionName string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(actionName) {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	p := strings.Trim(b.String(), "_-")
	if len(p) > maxPrefix {
		p = strings.TrimRight(p[:maxPrefix], "_-")
	}
	if p == "" {
		p = "action"
	}
	return p
}

// hashed cuts base and appends a short hash of the action and operation ids (and n, when a
// hash collides).
func hashed(base, actionID, opID string, n int) string {
	key := actionID + "\x00" + opID
	if n > 0 {
		key += "\x00" + strconv.Itoa(n)
	}
	sum := sha256.Sum256([]byte(key))
	suffix := "_" + hex.EncodeToString(sum[:])[:hashLen]
	if keep := maxName - len(suffix); len(base) > keep {
		base = strings.TrimRight(base[:keep], "_-")
	}
	return base + suffix
}
