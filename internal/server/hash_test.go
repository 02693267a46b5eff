package server_test

import "crypto/sha256"

func hashOf(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }
