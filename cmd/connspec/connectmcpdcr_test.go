package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connspec/connspec/internal/mcptest"
)

// connectMCP runs `connspec connect mcp` with args, approves at the AS as a
// user would, and returns the exit code and standard error.
func connectMCP(t *testing.T, args ...string) (int, string) {
	t.Helper()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		done <- run(append([]string{"connect", "mcp", "--no-browser", "--timeout", "30s"}, args...), pw, stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v (%s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	callback := mcptest.Authorize(t, strings.TrimSpace(line))
	resp, err := http.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return <-done, stderr.String()
}

// TestConnectMCPWithNothingPreRegistered: issue 17's "Done means": `connspec
// connect mcp --input url=...` and nothing else, against an MCP server (the
// official Go SDK) whose authorization server offers dynamic client
// registration only: the CLI registers a client, authorizes with PKCE and
// resource, writes the credentials and the connector's test passes. The
// registration is kept sealed in the default store (the user's config
// directory, as serve), so a later `connspec test` run refreshes the
// expired token with the registered client; a run on another store is
// refused naming the registration. Canaries: the client secret and the
// tokens show on no output, the secret not in the credentials file nor in
// the store's file in clear.
func TestConnectMCPWithNothingPreRegistered(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	t.Setenv("CONNSPEC_SECRET_KEY", "")
	as := mcptest.NewAS(t)
	as.Registration = true
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{Scopes: []string{"mcp:tools"}})
	out := filepath.Join(t.TempDir(), "creds.json")

	code, stderr := connectMCP(t, "--out", out, "--input", "url="+srv.URL)
	if code != 0 {
		t.Fatalf("connect exited %d: %s", code, stderr)
	}
	if len(as.Registered) != 1 {
		t.Fatalf("%d registrations, want 1", len(as.Registered))
	}
	clientID := as.AuthorizeRequests[0].Get("client_id")
	secret := as.Secret(clientID)
	if secret == "" {
		t.Fatalf("client %q registered without a secret", clientID)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]any
	if err := json.Unmarshal(data, &creds); err != nil || creds["oauth_resource"] != srv.URL || creds["access_token"] == nil {
		t.Fatalf("credentials %s", data)
	}
	if ref, _ := creds["oauth_registration"].(map[string]any); ref["client_id"] != clientID {
		t.Errorf("credentials name registration %v, want client %s", creds["oauth_registration"], clientID)
	}
	if got := as.TokenRequests[0].Get("resource"); got != srv.URL {
		t.Errorf("code exchange resource %q", got)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret))
	if as.TokenAuth[0] != basic {
		t.Errorf("code exchange did not authenticate as the registered client: %q", as.TokenAuth[0])
	}
	db := filepath.Join(home, "connspec", "connspec.db")
	if !strings.Contains(stderr, db) {
		t.Errorf("stderr does not say where the registration is kept (%s): %s", db, stderr)
	}
	checkCanaries(t, "connect", stderr, secret, creds["access_token"], creds["refresh_token"])
	if strings.Contains(string(data), secret) {
		t.Errorf("the credentials file holds the client secret: %s", data)
	}
	if raw, err := os.ReadFile(db); err != nil || strings.Contains(string(raw), secret) {
		t.Errorf("the store %s is missing or holds the client secret in clear (%v)", db, err)
	}

	// A later run: the access token expired; `connspec test` refreshes with
	// the registered client and the test passes.
	creds["expires_at"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if err := writeJSONFile(out, creds); err != nil {
		t.Fatal(err)
	}
	before := len(as.TokenRequests)
	stdout, stderr2 := &syncBuffer{}, &syncBuffer{}
	if code := run([]string{"test", "mcp", "--input", "url=" + srv.URL, "--credentials", out}, stdout, stderr2); code != 0 {
		t.Fatalf("test after expiry exited %d: %s %s", code, stdout.String(), stderr2.String())
	}
	if len(as.TokenRequests) != before+1 || as.TokenRequests[before].Get("grant_type") != "refresh_token" ||
		as.TokenRequests[before].Get("resource") != srv.URL || as.TokenAuth[before] != basic {
		t.Fatalf("the later run did not refresh as the registered client with the resource: %v", as.TokenRequests[before:])
	}
	if len(as.Registered) != 1 {
		t.Errorf("the later run registered again: %d registrations", len(as.Registered))
	}
	var refreshed map[string]any
	data, _ = os.ReadFile(out)
	if json.Unmarshal(data, &refreshed); refreshed["access_token"] == creds["access_token"] || refreshed["oauth_registration"] == nil {
		t.Errorf("the credentials file was not rewritten with the refreshed tokens and the registration: %s", data)
	}
	checkCanaries(t, "test", stdout.String()+stderr2.String(), secret, creds["access_token"], creds["refresh_token"], refreshed["access_token"], refreshed["refresh_token"])

	// On another store the registration is unknown: refused, saying so.
	refreshed["expires_at"] = creds["expires_at"]
	if err := writeJSONFile(out, refreshed); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	stdout, stderr2 = &syncBuffer{}, &syncBuffer{}
	code = run([]string{"test", "mcp", "--input", "url=" + srv.URL, "--credentials", out,
		"--db", "sqlite:" + filepath.Join(other, "x.db"), "--key-file", filepath.Join(other, "key")}, stdout, stderr2)
	if code == 0 || !strings.Contains(stdout.String()+stderr2.String(), "registration") {
		t.Errorf("another store: exit %d, want a failure naming the registration: %s %s", code, stdout.String(), stderr2.String())
	}
	checkCanaries(t, "test on another store", stdout.String()+stderr2.String(), secret, refreshed["access_token"], refreshed["refresh_token"])
}

func checkCanaries(t *testing.T, what, output string, secrets ...any) {
	t.Helper()
	for _, s := range secrets {
		if str, _ := s.(string); str != "" && strings.Contains(output, str) {
			t.Errorf("%s output shows a secret %.12q…: %s", what, str, output)
		}
	}
}

// TestConnectOpensNoStoreWithoutRegistration: a connection with a
// configured client never opens the registration store: no key file, no
// database in the user's config directory.
func TestConnectOpensNoStoreWithoutRegistration(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	as := mcptest.NewAS(t)
	as.Registration = true
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	code, stderr := connectMCP(t, "--out", filepath.Join(t.TempDir(), "creds.json"), "--input", "url="+srv.URL, "--param", "clientId="+mcptest.ClientID)
	if code != 0 {
		t.Fatalf("connect exited %d: %s", code, stderr)
	}
	if len(as.Registered) != 0 {
		t.Errorf("%d registrations with a configured client", len(as.Registered))
	}
	if _, err := os.Stat(filepath.Join(home, "connspec")); !os.IsNotExist(err) {
		t.Errorf("the config directory was touched: %v", err)
	}
}
