// Package secrets keeps API keys, OAuth client secrets and tokens secret: a
// Secret type that never prints its value, and envelope encryption at rest
// (AES-256-GCM data keys wrapped by a rotatable master key) for everything
// actiongate stores.
//
// A Keyring seals each secret under a fresh data key and wraps that data key
// under the primary master Key; the ciphertext names the master key, so older
// keys kept in the ring still open it and Rewrap moves it to the new primary
// without touching the data. LoadMasterKey finds the master key at start-up,
// and MakeCheck/VerifyCheck turn a wrong key into a clear start-up error.
package secrets
