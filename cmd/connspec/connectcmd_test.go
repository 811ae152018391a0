package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

// connectSpec is an OAuth 2.0 connector on an oauthtest server.
const connectSpec = `name: Acme
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
`

// connectRun is a `connspec connect --no-browser` running in the test.
type connectRun struct {
	srv    *oauthtest.Server
	out    string // the credentials file
	stderr *syncBuffer
	done   chan int // the exit status
	url    string   // the authorization URL it printed
}

// startConnect starts `connspec connect` and reads the URL it prints.
func startConnect(t *testing.T) *connectRun {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	dir := t.TempDir()
	spec := filepath.Join(dir, "acme.yml")
	os.WriteFile(spec, []byte(strings.NewReplacer("{{AUTH}}", srv.AuthorizeURL, "{{TOKEN}}", srv.TokenURL, "{{URL}}", srv.URL).Replace(connectSpec)), 0o644)
	c := &connectRun{srv: srv, out: filepath.Join(dir, "creds.json"), stderr: &syncBuffer{}, done: make(chan int, 1)}
	pr, pw := io.Pipe()
	go func() {
		c.done <- run([]string{"connect", spec, "--no-browser", "--out", c.out, "--timeout", "30s",
			"--param", "clientId=client-1", "--param", "clientSecret=secret-1"}, pw, c.stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v (%s)", err, c.stderr.String())
	}
	go io.Copy(io.Discard, pr)
	c.url = strings.TrimSpace(line)
	return c
}

// syncBuffer is a bytes.Buffer the command and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkCredentialsFile checks what a successful connect wrote.
func checkCredentialsFile(t *testing.T, c *connectRun) {
	t.Helper()
	data, err := os.ReadFile(c.out)
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]any
	if json.Unmarshal(data, &creds) != nil || creds["access_token"] == "" || creds["refresh_token"] == "" {
		t.Errorf("credentials file: %s", data)
	}
	if info, _ := os.Stat(c.out); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	if strings.Contains(c.stderr.String(), "secret-1") {
		t.Errorf("stderr shows the client secret: %s", c.stderr.String())
	}
}

// TestConnectEndToEnd runs `connspec connect --no-browser` and plays the
// browser: it follows the printed URL to the in-process authorization
// server, which redirects to the command's loopback callback.
func TestConnectEndToEnd(t *testing.T) {
	c := startConnect(t)
	callback := c.srv.Authorize(t, c.url)
	if callback.Hostname() != "127.0.0.1" || callback.Path != "/callback" {
		t.Fatalf("callback %s", callback)
	}
	resp, err := http.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := <-c.done; code != 0 || resp.StatusCode != http.StatusOK {
		t.Fatalf("exit %d, callback status %d\n%s", code, resp.StatusCode, c.stderr.String())
	}
	checkCredentialsFile(t, c)
}

// A callback with a wrong or missing state (a forged one, or one of an
// older flow) is answered with a plain error page and ignored: the flow
// goes on and completes with its own callback.
func TestConnectIgnoresCallbacksOfOtherFlows(t *testing.T) {
	c := startConnect(t)
	callback := c.srv.Authorize(t, c.url)
	state := callback.Query().Get("state")
	forged := func(mutate func(q url.Values)) string {
		u := *callback
		q := u.Query()
		mutate(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for name, u := range map[string]string{
		"wrong state":          forged(func(q url.Values) { q.Set("state", state+"x") }),
		"missing state":        forged(func(q url.Values) { q.Del("state") }),
		"empty state":          forged(func(q url.Values) { q.Set("state", "") }),
		"error, wrong state":   forged(func(q url.Values) { q.Set("state", "other"); q.Del("code"); q.Set("error", "access_denied") }),
		"other code, no state": forged(func(q url.Values) { q.Del("state"); q.Set("code", "attacker-code") }),
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(body), "ignored") {
			t.Errorf("%s: %d %s %q", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		select {
		case code := <-c.done:
			t.Fatalf("%s: the flow ended (exit %d) on a callback that is not its own\n%s", name, code, c.stderr.String())
		default:
		}
	}
	resp, err := http.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := <-c.done; code != 0 || resp.StatusCode != http.StatusOK {
		t.Fatalf("exit %d, callback status %d\n%s", code, resp.StatusCode, c.stderr.String())
	}
	checkCredentialsFile(t, c)
}
