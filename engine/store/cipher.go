package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a secret key: AES-256.
const KeySize = 32

// Cipher encrypts credentials at rest with AES-256-GCM. It holds the
// current key, which seals, and older keys, which still open: rotating a
// key is NewCipher(newKey, oldKey) followed by a Rekey of the store.
type Cipher struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewCipher makes a cipher sealing with current and opening with current
// and every old key.
func NewCipher(current []byte, old ...[]byte) (*Cipher, error) {
	c := &Cipher{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, old...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("store: secret key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := keyID(k)
		if i == 0 {
			c.current = id
		}
		c.aeads[id] = aead
	}
	return c, nil
}

// keyID names a key without revealing it: the start of its SHA-256.
func keyID(k []byte) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:4])
}

// Seal encrypts plaintext for the row named by aad (the connection id), so
// a sealed value cannot be moved to another row.
func (c *Cipher) Seal(plaintext []byte, aad string) (string, error) {
	aead := c.aeads[c.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return "v1:" + c.current + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// ErrUnknownKey: the value was sealed with a key this cipher does not hold.
var ErrUnknownKey = errors.New("store: credentials are sealed with a key that is not configured")

// Open decrypts a value made by Seal with any of the cipher's keys.
func (c *Cipher) Open(s string, aad string) ([]byte, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, errors.New("store: sealed credentials are malformed")
	}
	aead, ok := c.aeads[parts[1]]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, parts[1])
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, errors.New("store: sealed credentials are malformed")
	}
	out, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, errors.New("store: sealed credentials do not open (wrong key, or altered)")
	}
	return out, nil
}

// sealedWithCurrent reports whether s was sealed with the current key.
func (c *Cipher) sealedWithCurrent(s string) bool { return strings.HasPrefix(s, "v1:"+c.current+":") }

// LoadKey returns the secret key: CONNSPEC_SECRET_KEY (base64 of 32 bytes)
// when set, else the key file, which is created with mode 0600 (and a fresh
// random key) on first use.
func LoadKey(keyFile string) ([]byte, error) {
	if env := strings.TrimSpace(os.Getenv("CONNSPEC_SECRET_KEY")); env != "" {
		return decodeKey(env, "CONNSPEC_SECRET_KEY")
	}
	data, err := os.ReadFile(keyFile)
	if err == nil {
		return decodeKey(strings.TrimSpace(string(data)), keyFile)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, nil
}

func decodeKey(s, source string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("store: %s must hold the base64 of %d random bytes", source, KeySize)
}

// OldKeys returns the keys listed in CONNSPEC_OLD_SECRET_KEYS (base64,
// separated by commas): keys being rotated out, which still open values
// until a Rekey has re-sealed them with the current key.
func OldKeys() ([][]byte, error) {
	var out [][]byte
	for _, s := range strings.Split(os.Getenv("CONNSPEC_OLD_SECRET_KEYS"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := decodeKey(s, "CONNSPEC_OLD_SECRET_KEYS")
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}
