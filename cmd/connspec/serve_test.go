package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

const serveCanary = "canary-serve-key-9e1f2d"

// slowConnector is an API-key connector whose API answers /slow after a
// pause, for requests in flight during a shutdown.
const slowConnector = `key: slowapi
name: Slow API
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {apiKey: {type: string}}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {X-Api-Key: {$var: credentials.apiKey}}
`

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeFinishesInFlightProxyRequestsOnShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != serveCanary {
			w.WriteHeader(401)
			return
		}
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			time.Sleep(time.Second)
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slowapi.yml"), []byte(strings.ReplaceAll(slowConnector, "{{URL}}", api.URL)), 0o600)
	t.Setenv("CONNSPEC_API_KEY", "serve-admin-key")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + filepath.Join(dir, "c.db"), connectorsDir: dir,
			keyFile: filepath.Join(dir, "unused.key"), logFormat: "json", logLevel: "debug", shutdownTimeout: 10 * time.Second}, logs, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer serve-admin-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	status, body := call("POST", "/v1/connections", `{"connector":"slowapi","account":"a","input":{"apiKey":"`+serveCanary+`"}}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var conn struct{ ID string }
	json.Unmarshal([]byte(body), &conn)

	type answer struct {
		status int
		body   string
	}
	inflight := make(chan answer, 1)
	go func() {
		s, b := call("GET", "/v1/proxy/"+conn.ID+"/slow", "")
		inflight <- answer{s, b}
	}()
	<-started
	cancel() // SIGTERM
	got := <-inflight
	if got.status != 200 || !strings.Contains(got.body, `"ok":true`) {
		t.Errorf("the in-flight request was dropped: %d %s", got.status, got.body)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("serve still answers after shutdown")
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", out)
	}
	if strings.Contains(out, serveCanary) || strings.Contains(body, serveCanary) {
		t.Errorf("the API key leaked into logs or answers:\n%s", out)
	}
}

func TestServeRefusesAnOpenAdminAPIBeyondLoopback(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", "")
	for _, args := range [][]string{
		{"serve", "--addr", "0.0.0.0:0"},
		{"serve", "--addr", "0.0.0.0:0", "--insecure-no-key"},
		{"serve", "--addr", "127.evil.example:0", "--insecure-no-key"},
	} {
		var stderr bytes.Buffer
		code := run(args, io.Discard, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "CONNSPEC_API_KEY") {
			t.Errorf("%v: exit %d: %s", args, code, stderr.String())
		}
	}
}

// TestServeNeedsAKeyOrAnExplicitFlag: on loopback too, serve without a key
// refuses to start unless --insecure-no-key says so.
func TestServeNeedsAKeyOrAnExplicitFlag(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", "")
	var stderr bytes.Buffer
	code := run([]string{"serve", "--addr", "127.0.0.1:0"}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--insecure-no-key") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}

// TestServeCreatesItsSQLiteFilePrivate: --db sqlite:PATH makes a 0600 file.
func TestServeCreatesItsSQLiteFilePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	cipher, err := loadCipher("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, closeStore, err := openStore(context.Background(), "sqlite:"+path, t.TempDir(), cipher)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", path, info.Mode().Perm(), err)
	}
}

func TestRekeyMovesTheStoreToTheNewKey(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	path := filepath.Join(t.TempDir(), "c.db")
	oldCipher, _ := store.NewCipher(oldKey)
	st, err := store.OpenSQLite(path, oldCipher)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": serveCanary})
	st.Close()

	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(newKey))
	t.Setenv("CONNSPEC_OLD_SECRET_KEYS", base64.StdEncoding.EncodeToString(oldKey))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"rekey", "--db", "sqlite:" + path}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "re-sealed 1 values") {
		t.Fatalf("rekey: exit %d %s %s", code, stdout.String(), stderr.String())
	}
	newOnly, _ := store.NewCipher(newKey)
	st, err = store.OpenSQLite(path, newOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rec, err := st.Get(ctx, "c1"); err != nil || rec.Credentials["access_token"] != serveCanary {
		t.Fatalf("after rekey the new key alone must open the store: %v", err)
	}
	if strings.Contains(stdout.String()+stderr.String(), serveCanary) {
		t.Error("a secret was printed")
	}
}
