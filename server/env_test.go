package server_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
	"github.com/connspec/connspec/server"
	"go.opentelemetry.io/otel/trace"
)

// Canary values: they must never appear in a response, a log line or a
// metric (see assertNoCanaries).
const (
	canaryAPIKey       = "canary-apikey-7f3a9c1e"
	canaryClientSecret = "canary-clientsecret-51d2b8"
	testAdminKey       = "admin-key-for-tests"
	bigBody            = 50 << 20
)

// keyedConnector is an API-key connector for the API of apiServer: the key
// goes in X-Api-Key, test is GET /me, disconnect is POST /revoke.
func keyedConnector(apiURL string) string {
	return strings.ReplaceAll(`key: keyed
name: Keyed API
auth:
  type: client-credentials
  ui:
    description: Paste an API key.
    helpUri: https://example.com/help
    schema:
      type: object
      properties:
        apiKey: {type: string, title: API key, description: Starts with key-}
        region: {type: string, title: Region, enum: [eu, us], default: eu}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        X-Api-Key: {$var: credentials.apiKey}
  test:
    implementationType: rest-api-mapping
    mapping: {path: /me, method: GET}
  disconnect:
    implementationType: javascript
    code: |
      export default async function disconnect({ apiClient }) {
        await apiClient.post('/revoke')
      }
`, "{{URL}}", apiURL)
}

// oauthConnector is an OAuth 2.0 connector for the in-process authorization
// server; its API is the server's protected resource (/api/me).
func oauthConnector(srv *oauthtest.Server) string {
	return strings.NewReplacer("{{AUTH}}", srv.AuthorizeURL, "{{TOKEN}}", srv.TokenURL, "{{URL}}", srv.URL).Replace(`key: oauthy
name: OAuthy
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
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
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
  test:
    implementationType: rest-api-mapping
    mapping: {path: /api/me, method: GET}
`)
}

// apiServer is the API behind keyedConnector: it accepts only goodKey.
type apiServer struct {
	*httptest.Server
	mu       sync.Mutex
	revoked  int
	lastSeen http.Header
}

func newAPIServer(t testing.TB, goodKey string) *apiServer {
	a := &apiServer{}
	mux := http.NewServeMux()
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			a.lastSeen = r.Header.Clone()
			a.mu.Unlock()
			if r.Header.Get("X-Api-Key") != goodKey {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"bad key"}`)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /me", authed(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"user":"u-1"}`)
	}))
	mux.HandleFunc("POST /revoke", authed(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.revoked++
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("/echo", authed(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body), "contentType": r.Header.Get("Content-Type")})
	}))
	mux.HandleFunc("GET /deny", func(w http.ResponseWriter, r *http.Request) {
		// A provider that echoes the key it was sent in its error, gzipped
		// when the caller accepts it.
		body := `{"error":"key ` + r.Header.Get("X-Api-Key") + ` is not allowed here"}`
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusForbidden)
			zw := gzip.NewWriter(w)
			io.WriteString(zw, body)
			zw.Close()
			return
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, body)
	})
	mux.HandleFunc("GET /away", authed(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	mux.HandleFunc("GET /big", authed(func(w http.ResponseWriter, r *http.Request) {
		// 50 MB in 64 KiB writes: the proxy must pass it on as it comes.
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		w.Header().Set("Content-Type", "application/octet-stream")
		for range bigBody / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	mux.HandleFunc("POST /upload", authed(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]int64{"received": n})
	}))
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

// env is a running server with its engine, store and logs.
type env struct {
	t       testing.TB
	URL     string
	Engine  *engine.Engine
	Store   server.Store
	Metrics *server.Metrics
	Server  *server.Server
	logs    *syncBuffer
	client  *http.Client
}

type envOptions struct {
	connectors map[string]string // file name -> YAML
	params     map[string]map[string]any
	store      server.Store
	cipher     *store.Cipher
	apiKey     *string // nil: testAdminKey
	engineOpts []engine.Option
	sessionTTL time.Duration
	// connectTo are development redirects for the engine and the server.
	connectTo []engine.ConnectTo
	// branding presents the embedding app on the connect page.
	branding server.Branding
	// quiet discards logs (benchmarks: kept logs would count as memory).
	quiet bool
	// tracerProvider traces the server and the engine (tracing_test.go).
	tracerProvider trace.TracerProvider
	// recheckAfter is server.Config.RecheckAfter (0: its default).
	recheckAfter time.Duration
}

// newEnv starts a server on loopback with the given connectors.
func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	if o.store == nil {
		o.store = store.NewMemory()
	}
	if o.cipher == nil {
		o.cipher = testCipher(t)
	}
	key := testAdminKey
	if o.apiKey != nil {
		key = *o.apiKey
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	metrics := server.NewMetrics()
	opts := append([]engine.Option{engine.WithStore(o.store), engine.WithLogger(logger), engine.WithRefreshHook(metrics.RefreshHook()), engine.WithConnectTo(o.connectTo...)}, o.engineOpts...)
	if o.tracerProvider != nil {
		opts = append(opts, engine.WithTracerProvider(o.tracerProvider))
	}
	eng := engine.New(opts...)
	for name, src := range o.connectors {
		p := filepath.Join(dir, name+".yml")
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, diags := eng.Load(p); diags.HasErrors() {
			t.Fatalf("connector %s: %v", name, diags)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	srv, err := server.New(server.Config{Engine: eng, Store: o.store, Cipher: o.cipher, APIKey: key, InsecureNoKey: key == "", PublicURL: url,
		ConnectorParameters: o.params, Logger: logger, Metrics: metrics, SessionTTL: o.sessionTTL, ConnectTo: o.connectTo, Branding: o.branding, TracerProvider: o.tracerProvider, RecheckAfter: o.recheckAfter})
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	ts.Start()
	t.Cleanup(func() { srv.Close() }) // after ts.Close: background device flows stop
	t.Cleanup(ts.Close)
	return &env{t: t, URL: url, Engine: eng, Store: o.store, Metrics: metrics, Server: srv, logs: logs, client: withContractCheck(t, ts.Client(), key == "")}
}

func testCipher(t testing.TB) *store.Cipher {
	key := make([]byte, store.KeySize)
	rand.Read(key)
	c, err := store.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// api sends an admin API request with the API key and returns the status
// and body.
func (e *env) api(method, path string, body any) (int, []byte) {
	e.t.Helper()
	return e.request(method, path, body, testAdminKey)
}

func (e *env) request(method, path string, body any, key string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// createKeyed creates a connection of the keyed connector and returns its id.
func (e *env) createKeyed(apiKey, account string) string {
	e.t.Helper()
	if account == "" {
		account = "acc-default" // every connection belongs to an account
	}
	status, body := e.api("POST", "/v1/connections", map[string]any{"connector": "keyed", "account": account, "input": map[string]any{"apiKey": apiKey}})
	if status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", status, body)
	}
	var out struct{ ID string }
	json.Unmarshal(body, &out)
	return out.ID
}

// metricsText returns what /metrics serves.
func (e *env) metricsText() string {
	e.t.Helper()
	resp, err := e.client.Get(e.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// assertNoCanaries fails when a canary secret appears in any of texts or
// in the logs.
func (e *env) assertNoCanaries(texts ...string) {
	e.t.Helper()
	texts = append(texts, e.logs.String(), e.metricsText())
	for _, c := range []string{canaryAPIKey, canaryClientSecret} {
		for i, s := range texts {
			if strings.Contains(s, c) {
				e.t.Errorf("canary %q leaked in text %d: %.300s", c, i, s)
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
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
