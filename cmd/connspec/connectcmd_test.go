package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

// TestConnectEndToEnd runs `connspec connect --no-browser` and plays the
// browser: it follows the printed URL to the in-process authorization
// server, which redirects to the command's loopback callback.
func TestConnectEndToEnd(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	dir := t.TempDir()
	spec := filepath.Join(dir, "acme.yml")
	os.WriteFile(spec, []byte(strings.NewReplacer("{{AUTH}}", srv.AuthorizeURL, "{{TOKEN}}", srv.TokenURL, "{{URL}}", srv.URL).Replace(`name: Acme
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: {{AUTH}}
      tokenUri: {{TOKEN}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
  test:
    code: |
      export default async ({ apiClient }) => (await apiClient.get('/api/me')).user === 'user-1'
`)), 0o644)
	out := filepath.Join(dir, "creds.json")
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"connect", spec, "--no-browser", "--out", out, "--timeout", "30s",
			"--param", "clientId=client-1", "--param", "clientSecret=secret-1"}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v (%s)", err, stderr.String())
	}
	callback := srv.Authorize(t, strings.TrimSpace(line))
	if callback.Hostname() != "127.0.0.1" || callback.Path != "/callback" {
		t.Fatalf("callback %s", callback)
	}
	resp, err := http.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 || resp.StatusCode != http.StatusOK {
		t.Fatalf("exit %d, callback status %d\n%s", code, resp.StatusCode, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]any
	if json.Unmarshal(data, &creds) != nil || creds["access_token"] == "" || creds["refresh_token"] == "" {
		t.Errorf("credentials file: %s", data)
	}
	if info, _ := os.Stat(out); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	if strings.Contains(stderr.String(), "secret-1") {
		t.Errorf("stderr shows the client secret: %s", stderr.String())
	}
}
