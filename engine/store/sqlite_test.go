package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

func openSQLite(t testing.TB, path string, c *Cipher) *SQLite {
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
	Conformance(t, func(t *testing.T) Store { return openSQLite(t, filepath.Join(t.TempDir(), "connspec.db"), c) })
}

// The database file must not show a token (nor an API key typed as
// connection input) in clear, and a sealed value cannot be moved to another
// connection's row, nor from the credentials to the input column.
func TestSQLiteEncryptsAtRest(t *testing.T) {
	const canary, inputCanary = "canary-token-at-rest-9c1e", "canary-api-key-at-rest-3f4b"
	path := filepath.Join(t.TempDir(), "connspec.db")
	c, _ := NewCipher(newKey(t))
	s := openSQLite(t, path, c)
	ctx := context.Background()
	if _, err := s.CompareAndSwap(ctx, "a", 0, map[string]any{"access_token": canary}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(ctx, ConnectionInfo{ID: "a", Connector: "openai", Input: map[string]any{"api_key": inputCanary}}); err != nil {
		t.Fatal(err)
	}
	s.CompareAndSwap(ctx, "b", 0, map[string]any{"access_token": "other"})
	s.PutConnection(ctx, ConnectionInfo{ID: "b", Connector: "openai", Input: map[string]any{"api_key": "other"}})
	s.Close()
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if err == nil && bytes.Contains(data, []byte(canary)) {
			t.Fatalf("%s holds the token in clear", f)
		}
		if err == nil && bytes.Contains(data, []byte(inputCanary)) {
			t.Fatalf("%s holds the connection input in clear", f)
		}
	}
	s = openSQLite(t, path, c)
	for _, move := range []string{
		`UPDATE connections SET credentials = (SELECT credentials FROM connections WHERE id = 'a') WHERE id = 'b'`,
		`UPDATE connection_info SET input = (SELECT input FROM connection_info WHERE id = 'a') WHERE id = 'b'`,
		`UPDATE connection_info SET input = (SELECT credentials FROM connections WHERE id = 'a') WHERE id = 'a'`,
	} {
		if _, err := s.db.Exec(move); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "b"); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("a row copied from another connection opened: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := s.GetConnection(ctx, id); err == nil || strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), inputCanary) {
			t.Errorf("input moved into row %s opened: %v", id, err)
		}
	}
}

func TestSQLiteKeyRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connspec.db")
	oldKey, newKeyBytes := newKey(t), newKey(t)
	ctx := context.Background()
	c1, _ := NewCipher(oldKey)
	s := openSQLite(t, path, c1)
	s.CompareAndSwap(ctx, "a", 0, map[string]any{"access_token": "t1"})
	if err := s.PutConnection(ctx, ConnectionInfo{ID: "a", Connector: "openai", Input: map[string]any{"api_key": "k1"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Without the old key the rows do not open.
	c2only, _ := NewCipher(newKeyBytes)
	if _, err := openSQLite(t, path, c2only).Get(ctx, "a"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new key alone: %v", err)
	}
	if _, err := openSQLite(t, path, c2only).GetConnection(ctx, "a"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new key alone, input: %v", err)
	}
	// With both, Rekey moves every sealed value (credentials and input) to
	// the new key...
	both, _ := NewCipher(newKeyBytes, oldKey)
	s = openSQLite(t, path, both)
	if n, err := s.Rekey(ctx); err != nil || n != 2 {
		t.Fatalf("Rekey = %d, %v", n, err)
	}
	if n, err := s.Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("second Rekey = %d, %v", n, err)
	}
	// ...after which the old key can be dropped.
	s = openSQLite(t, path, c2only)
	r, err := s.Get(ctx, "a")
	if err != nil || r.Credentials["access_token"] != "t1" || r.Version != 1 {
		t.Fatalf("after rotation: %+v %v", r, err)
	}
	info, err := s.GetConnection(ctx, "a")
	if err != nil || info.Input["api_key"] != "k1" {
		t.Fatalf("input after rotation: %+v %v", info, err)
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

func TestSQLiteRenewalLeaseExcludesOtherHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connspec.db")
	c, _ := NewCipher(newKey(t))
	a, b := openSQLite(t, path, c), openSQLite(t, path, c)
	ctx := context.Background()
	unlock, err := a.Lock(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	// Another process waits while the lease is held...
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "conn-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lease while the first is held: %v", err)
	}
	// ...but not for other connections...
	other, err := b.Lock(ctx, "conn-2")
	if err != nil {
		t.Fatal(err)
	}
	other()
	// ...and gets it once released.
	unlock()
	unlockB, err := b.Lock(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	// A lease left by a crashed process expires.
	if _, err := a.db.ExecContext(ctx, `INSERT INTO renewal_leases (id, owner, expires_at) VALUES ('conn-3', 'crashed', ?)`, time.Now().Add(-time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	soon, cancelSoon := context.WithTimeout(ctx, time.Second)
	defer cancelSoon()
	taken, err := b.Lock(soon, "conn-3")
	if err != nil {
		t.Fatalf("an expired lease was not taken over: %v", err)
	}
	taken()
}

// TestSQLiteFilesArePrivate: a new database file and its WAL companions
// are readable by their owner only, whatever the umask allows.
func TestSQLiteFilesArePrivate(t *testing.T) {
	c, _ := NewCipher(newKey(t))
	path := filepath.Join(t.TempDir(), "connspec.db")
	s := openSQLite(t, path, c)
	if _, err := s.CompareAndSwap(t.Context(), "c1", 0, map[string]any{"token": "t"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), info.Mode().Perm())
		}
	}
}
