package secrets_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/actiongate/actiongate/internal/secrets"
)

func ExampleKeyring() {
	key, err := secrets.GenerateKey() // in production: secrets.LoadMasterKey
	if err != nil {
		log.Fatal(err)
	}
	ring := secrets.NewKeyring(key)

	// Bind the ciphertext to its record with the aad.
	ct, err := ring.SealString(secrets.New("sk-live-123"), "credentials/42/api_key")
	if err != nil {
		log.Fatal(err)
	}
	s, err := ring.OpenString(ct, "credentials/42/api_key")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s, s.Reveal())

	_, err = ring.Open(ct, "credentials/43/api_key")
	fmt.Println(err)
	// Output:
	// [redacted] sk-live-123
	// secrets: cannot decrypt: wrong key, tampered ciphertext or wrong additional data
}

func ExampleVerifyCheck() {
	oldKey, _ := secrets.GenerateKey()
	newKey, _ := secrets.GenerateKey()

	// First start: store the check with the data.
	check, err := secrets.MakeCheck(secrets.NewKeyring(oldKey))
	if err != nil {
		log.Fatal(err)
	}

	// Every start: verify it.
	fmt.Println(secrets.VerifyCheck(secrets.NewKeyring(oldKey), check))
	fmt.Println(secrets.VerifyCheck(secrets.NewKeyring(newKey, oldKey), check))
	err = secrets.VerifyCheck(secrets.NewKeyring(newKey), check)
	fmt.Println(errors.Is(err, secrets.ErrWrongMasterKey))
	// Output:
	// <nil>
	// <nil>
	// true
}
