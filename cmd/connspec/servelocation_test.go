package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startupLog starts serve with f, waits until it listens, stops it and
// returns its "serving" log record.
func startupLog(t *testing.T, f serveFlags) map[string]any {
	t.Helper()
	f.addr, f.logFormat, f.logLevel, f.shutdownTimeout = "127.0.0.1:0", "json", "info", 5*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- runServe(ctx, f, logs, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "serving" {
			return rec
		}
	}
	t.Fatalf("no serving record:\n%s", logs)
	return nil
}

// serve says at startup where its store and secret key are and the public
// URL end users get, so an operator can find (and back up) them; the key
// itself never appears.
func TestServeLogsWhereItsStoreKeyAndURLAre(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", "startup-admin-key")
	dir := t.TempDir()
	db, keyFile := filepath.Join(dir, "store", "c.db"), filepath.Join(dir, "keys", "secret.key")
	os.MkdirAll(filepath.Dir(db), 0o700)

	t.Run("key file", func(t *testing.T) {
		t.Setenv("CONNSPEC_SECRET_KEY", "")
		rec := startupLog(t, serveFlags{db: "sqlite:" + db, keyFile: keyFile, publicURL: "https://connect.example.test"})
		want := map[string]any{"store": "sqlite", "store_location": db, "secret_key": keyFile, "public_url": "https://connect.example.test"}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s = %v, want %v (record %v)", k, rec[k], v, rec)
			}
		}
		key, err := os.ReadFile(keyFile)
		if err != nil || bytes.Contains(mustJSON(t, rec), bytes.TrimSpace(key)) {
			t.Errorf("the key file's content is in the log (or the file is missing: %v)", err)
		}
	})

	t.Run("key from the environment, relative store path", func(t *testing.T) {
		key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
		t.Setenv("CONNSPEC_SECRET_KEY", key)
		t.Chdir(dir)
		rec := startupLog(t, serveFlags{db: "sqlite:" + filepath.Join("store", "c.db"), keyFile: keyFile})
		if rec["secret_key"] != "$CONNSPEC_SECRET_KEY" || rec["store_location"] != db {
			t.Errorf("record %v", rec)
		}
		if !strings.HasPrefix(rec["public_url"].(string), "http://127.0.0.1:") {
			t.Errorf("public_url = %v, want the listening address", rec["public_url"])
		}
		if bytes.Contains(mustJSON(t, rec), []byte(key)) {
			t.Errorf("the secret key is in the log: %v", rec)
		}
	})
}

// A PostgreSQL URL is logged without the password, wherever it is written.
func TestStoreLocationHidesPostgresPasswords(t *testing.T) {
	const canary = "canary-pg-pass-51c3"
	for db, want := range map[string]string{
		"postgres://app:" + canary + "@db.internal:5432/connspec":                       "postgres://app@db.internal:5432/connspec",
		"postgresql://app@db.internal/connspec?password=" + canary + "&sslmode=require": "postgresql://app@db.internal/connspec",
		"postgres://:" + canary + "@db.internal/x":                                      "postgres://db.internal/x",
		"postgres://db.internal/x#" + canary:                                            "postgres://db.internal/x",
		"postgres://app:" + canary + "@[::1/x":                                          "postgres (unparsable URL not shown)",
	} {
		if got := storeLocation(db, t.TempDir()); got != want || strings.Contains(got, canary) {
			t.Errorf("storeLocation(%q) = %q, want %q", db, got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
