package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/mcptest"
)

// TestConnectMCPEndToEnd: `connspec connect mcp --input url=...` against an
// MCP server built with the official Go SDK behind bearer authentication
// (401 with resource_metadata) and its authorization server (pre-registered
// public client, PKCE S256, resource-bound tokens): the bundled connector's
// test (initialize) passes with the token, and the credentials name the
// resource they are bound to.
func TestConnectMCPEndToEnd(t *testing.T) {
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{Scopes: []string{"mcp:tools"}})
	out := filepath.Join(t.TempDir(), "creds.json")
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		done <- run([]string{"connect", "mcp", "--no-browser", "--out", out, "--timeout", "30s",
			"--input", "url=" + srv.URL, "--param", "clientId=" + mcptest.ClientID}, pw, stderr)
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
	if code := <-done; code != 0 {
		t.Fatalf("connect exited %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]any
	if err := json.Unmarshal(data, &creds); err != nil || creds["oauth_resource"] != srv.URL || creds["access_token"] == nil {
		t.Errorf("credentials %s", data)
	}
	if got := as.TokenRequests[0].Get("resource"); got != srv.URL {
		t.Errorf("code exchange resource %q", got)
	}
	// Canary: the token never shows on standard error.
	if tok, _ := creds["access_token"].(string); tok != "" && strings.Contains(stderr.String(), tok) {
		t.Errorf("stderr shows the access token: %s", stderr.String())
	}
}
