package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

func openSQLite(t *testing.T, path string, c *Cipher) *SQLite {
	t.Helper()
	s, err := OpenSQLite(path, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteConformance(t *testing.T) {
	c, _ := NewCipher(newKey(t))
	Conformance(t, openSQLite(t, filepath.Join(t.TempDir(), "connspec.db"), c))
}

// The database file must not show a token in clear, and a sealed value
// cannot be moved to another connection's row.
func TestSQLiteEncryptsAtRest(t *testing.T) {
	const canary = "canary-token-at-rest-9c1e"
	path := filepath.Join(t.TempDir(), "connspec.db")
	c, _ := NewCipher(newKey(t))
	s := openSQLite(t, path, c)
	ctx := context.Background()
	if _, err := s.CompareAndSwap(ctx, "a", 0, map[string]any{"access_token": canary}); err != nil {
		t.Fatal(err)
	}
	s.CompareAndSwap(ctx, "b", 0, map[string]any{"access_token": "other"})
	s.Close()
	for _, f := range []string{path, path + "-wal"} {
		if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte(canary)) {
			t.Fatalf("%s holds the token in clear", f)
		}
	}
	s = openSQLite(t, path, c)
	if _, err := s.db.Exec(`UPDATE connections SET credentials = (SELECT credentials FROM connections WHERE id = 'a') WHERE id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "b"); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("a row copied from another connection opened: %v", err)
	}
}

func TestSQLiteKeyRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connspec.db")
	oldKey, newKeyBytes := newKey(t), newKey(t)
	ctx := context.Background()
	c1, _ := NewCipher(oldKey)
	s := openSQLite(t, path, c1)
	s.CompareAndSwap(ctx, "a", 0, map[string]any{"access_token": "t1"})
	s.Close()

	// Without the old key the row does not open.
	c2only, _ := NewCipher(newKeyBytes)
	if _, err := openSQLite(t, path, c2only).Get(ctx, "a"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new key alone: %v", err)
	}
	// With both, Rekey moves every row to the new key...
	both, _ := NewCipher(newKeyBytes, oldKey)
	s = openSQLite(t, path, both)
	if n, err := s.Rekey(ctx); err != nil || n != 1 {
		t.Fatalf("Rekey = %d, %v", n, err)
	}
	// ...after which the old key can be dropped.
	r, err := openSQLite(t, path, c2only).Get(ctx, "a")
	if err != nil || r.Credentials["access_token"] != "t1" || r.Version != 1 {
		t.Fatalf("after rotation: %+v %v", r, err)
	}
}

func TestSQLiteConcurrentWritersAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connspec.db")
	c, _ := NewCipher(newKey(t))
	ctx := context.Background()
	first := openSQLite(t, path, c)
	first.CompareAndSwap(ctx, "c", 0, map[string]any{"v": 0})
	// Two processes' worth of handles on one file, racing from version 1.
	handles := []*SQLite{first, openSQLite(t, path, c)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		wg.Go(func() {
			if _, err := handles[i%2].CompareAndSwap(ctx, "c", 1, map[string]any{"v": i}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d writers won from one version", wins)
	}
}

func TestLoadKeyCreatesAPrivateKeyFile(t *testing.T) {
	t.Setenv("CONNSPEC_SECRET_KEY", "")
	file := filepath.Join(t.TempDir(), "conf", "secret.key")
	k1, err := LoadKey(file)
	if err != nil || len(k1) != KeySize {
		t.Fatal(err)
	}
	if info, _ := os.Stat(file); info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", info.Mode().Perm())
	}
	if k2, _ := LoadKey(file); !bytes.Equal(k1, k2) {
		t.Error("the key changed between loads")
	}
	t.Setenv("CONNSPEC_SECRET_KEY", "too-short")
	if _, err := LoadKey(file); err == nil || strings.Contains(err.Error(), "too-short") {
		t.Errorf("bad env key: %v", err)
	}
}

func TestMigrationsAreVersioned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connspec.db")
	c, _ := NewCipher(newKey(t))
	s := openSQLite(t, path, c)
	var n int
	s.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if n != len(sqliteMigrations) {
		t.Errorf("schema version %d, want %d", n, len(sqliteMigrations))
	}
	s.db.Exec(`INSERT INTO schema_migrations (version) VALUES (99)`)
	s.Close()
	if _, err := OpenSQLite(path, c); err == nil || !strings.Contains(err.Error(), "newer than this connspec") {
		t.Errorf("a newer schema must be refused: %v", err)
	}
}
