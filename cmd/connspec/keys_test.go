package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

// TestKeysCreateListRevokeOnServesStore: keys made, listed and revoked
// with the CLI on a database are the keys a server on that database takes;
// the key is printed once and appears nowhere else.
func TestKeysCreateListRevokeOnServesStore(t *testing.T) {
	secret := bytes.Repeat([]byte{9}, 32)
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(secret))
	path := filepath.Join(t.TempDir(), "keys.db")
	db := "sqlite:" + path

	code, out, errOut := runCLI(t, "keys", "create", "--db", db, "--name", "billing", "--scope", "proxy,connect", "--account", "acc-1")
	if code != 0 {
		t.Fatalf("create: exit %d %s %s", code, out, errOut)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, server.KeyPrefix) || strings.Count(out, "\n") != 1 {
		t.Fatalf("create printed %q, want the key alone", out)
	}
	if strings.Contains(errOut, key) || !strings.Contains(errOut, "shown once") {
		t.Errorf("create's standard error: %s", errOut)
	}
	id := strings.Fields(strings.TrimPrefix(errOut, "made API key "))[0]

	cipher, _ := store.NewCipher(secret)
	st, err := store.OpenSQLite(path, cipher)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// RecheckAfter bounds how long a server trusts a key it found good; at
	// its least, a revocation by the CLI (another process) holds from the
	// server's next request.
	srv, err := server.New(server.Config{Engine: engine.New(engine.WithStore(st)), Store: st, Cipher: cipher, APIKey: "legacy-admin-key", PublicURL: "http://127.0.0.1:1", RecheckAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path, k string) int {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/v1/connectors", key); got != 200 {
		t.Errorf("the CLI's connect key on the server: %d, want 200", got)
	}
	if got := get("/v1/connections", key); got != 403 {
		t.Errorf("the CLI's key on an admin route: %d, want 403", got)
	}

	code, out, errOut = runCLI(t, "keys", "list", "--db", db)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "proxy,connect") || !strings.Contains(out, "acc-1") {
		t.Fatalf("list: exit %d %s %s", code, out, errOut)
	}
	code, jsonOut, _ := runCLI(t, "keys", "list", "--db", db, "--format", "json")
	var listed []struct{ ID, LastUsedAt string }
	if code != 0 || json.Unmarshal([]byte(jsonOut), &listed) != nil || len(listed) != 1 || listed[0].ID != id || listed[0].LastUsedAt == "" {
		t.Fatalf("list --format json: exit %d %s", code, jsonOut)
	}

	if code, _, errOut := runCLI(t, "keys", "revoke", "--db", db, key); code != exitUsage || strings.Contains(errOut, key) {
		t.Errorf("revoke given the key itself: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "keys", "revoke", "--db", db, "nope"); code != exitUsage || !strings.Contains(errOut, "no API key") {
		t.Errorf("revoke of an unknown id: exit %d %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "keys", "revoke", "--db", db, id); code != 0 || !strings.Contains(out, "revoked API key "+id) {
		t.Fatalf("revoke: exit %d %s %s", code, out, errOut)
	}
	if got := get("/v1/connectors", key); got != http.StatusUnauthorized {
		t.Errorf("a key revoked with the CLI: %d, want 401", got)
	}
	if got := get("/v1/connections", "legacy-admin-key"); got != 200 {
		t.Errorf("CONNSPEC_API_KEY beside stored keys: %d, want 200", got)
	}
	_, out2, errOut2 := runCLI(t, "keys", "list", "--db", db)
	for _, text := range []string{out, errOut, jsonOut, out2, errOut2} {
		if strings.Contains(text, key[len(key)-20:]) {
			t.Errorf("the key was printed again: %s", text)
		}
	}

	for _, args := range [][]string{
		{"keys", "create", "--db", db, "--scope", "proxy"},
		{"keys", "create", "--db", db, "--name", "x"},
		{"keys", "create", "--db", db, "--name", "x", "--scope", "root"},
		{"keys", "create", "--db", db, "--name", "x", "--scope", "admin", "--account", "a"},
	} {
		if code, out, errOut := runCLI(t, args...); code != exitUsage || out != "" || errOut == "" {
			t.Errorf("%v: exit %d %q %q, want a usage error", args[2:], code, out, errOut)
		}
	}
}

// Without CONNSPEC_API_KEY, serve accepts only the keys stored in its
// database, and refuses to start when none is active (the server would be
// locked, or taken for open).
func TestServeWithStoredKeysOnly(t *testing.T) {
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)))
	t.Setenv("CONNSPEC_API_KEY", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slowapi.yml"), []byte(strings.ReplaceAll(slowConnector, "{{URL}}", "https://api.example")), 0o600)
	db := "sqlite:" + filepath.Join(dir, "serve.db")
	serve := func(ctx context.Context) (string, chan error, *lockedBuffer) {
		logs := &lockedBuffer{}
		addrc, done := make(chan string, 1), make(chan error, 1)
		go func() {
			done <- runServe(ctx, serveFlags{addr: "127.0.0.1:0", db: db, connectorsDir: dir, keyFile: filepath.Join(dir, "unused.key"),
				logFormat: "json", logLevel: "info", shutdownTimeout: 10 * time.Second}, logs, func(a string) { addrc <- a })
		}()
		select {
		case a := <-addrc:
			return "http://" + a, done, logs
		case err := <-done:
			done <- err
			return "", done, logs
		}
	}
	refused := func(when string) {
		t.Helper()
		base, done, _ := serve(context.Background())
		err := <-done
		if base != "" || err == nil || !strings.Contains(err.Error(), "connspec keys create") || !strings.Contains(err.Error(), "CONNSPEC_API_KEY") {
			t.Fatalf("%s: serve started (%q) or said %v", when, base, err)
		}
	}
	refused("no key stored yet")

	code, out, errOut := runCLI(t, "keys", "create", "--db", db, "--name", "admin", "--scope", "admin")
	if code != 0 {
		t.Fatalf("keys create: exit %d %s", code, errOut)
	}
	key := strings.TrimSpace(out)
	id := strings.Fields(strings.TrimPrefix(errOut, "made API key "))[0]
	ctx, cancel := context.WithCancel(context.Background())
	base, done, logs := serve(ctx)
	if base == "" {
		t.Fatalf("serve did not start with a stored admin key: %v\n%s", <-done, logs)
	}
	get := func(auth string) int {
		req, _ := http.NewRequest("GET", base+"/v1/connections", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		auth string
		want int
	}{{key, 200}, {"", 401}, {"not-a-key", 401}, {server.KeyPrefix + "nope_" + strings.Repeat("a", 43), 401}} {
		if got := get(tc.auth); got != tc.want {
			t.Errorf("GET /v1/connections with %.12q: %d, want %d", tc.auth, got, tc.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(logs.String(), key) {
		t.Error("serve logged the key")
	}

	if code, _, errOut := runCLI(t, "keys", "revoke", "--db", db, id); code != 0 {
		t.Fatalf("keys revoke: exit %d %s", code, errOut)
	}
	refused("every stored key revoked")
}
