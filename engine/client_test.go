package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// newEngine registers one single-file connector; {{URL}} in src is replaced
// by the test server's URL.
func newEngine(t testing.TB, srv *httptest.Server, src string, opts ...Option) *Engine {
	t.Helper()
	if srv != nil {
		src = strings.ReplaceAll(src, "{{URL}}", srv.URL)
	}
	e := New(opts...)
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
		t.Fatalf("connector does not load:\n%s", diags.Error())
	}
	return e
}

func mustClient(t testing.TB, e *Engine, conn Connection) *Client {
	t.Helper()
	if conn.Connector == "" {
		conn.Connector = "c"
	}
	cl, err := e.Client(context.Background(), conn)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	return cl
}

// echo answers with what it received: method, path, query, headers, body.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "query": r.URL.Query(),
		"auth": r.Header.Get("Authorization"), "apiKey": r.Header.Get("X-Api-Key"),
		"user": user, "pass": pass, "body": string(body),
	})
}

func get(t *testing.T, cl *Client, path string) map[string]any {
	t.Helper()
	out, err := cl.Get(context.Background(), path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	m, _ := out.(map[string]any)
	return m
}

const apiKeyHeader = `name: C
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {apiKey: {type: string, pattern: "^sk_[a-z0-9]+$"}}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        X-Api-Key: {$var: credentials.apiKey}
`

func TestAPIKeyInHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	cl := mustClient(t, newEngine(t, srv, apiKeyHeader), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_live1"}})
	got := get(t, cl, "/users?limit=2")
	if got["apiKey"] != "sk_live1" || got["path"] != "/v1/users" {
		t.Errorf("server saw %v", got)
	}
	if q := got["query"].(map[string]any); q["limit"].([]any)[0] != "2" {
		t.Errorf("query lost: %v", q)
	}
}

func TestAPIKeyInQueryAndArgsWrapper(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      args:
        baseUri: {{URL}}
        query:
          api_token: {$var: credentials.token}
`)
	got := get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"token": "tok123"}}), "/deals?start=0")
	q := got["query"].(map[string]any)
	if q["api_token"].([]any)[0] != "tok123" || q["start"].([]any)[0] != "0" {
		t.Errorf("query = %v", q)
	}
}

func TestBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      auth:
        username: {$var: credentials.apiKey}
        password: ""
`)
	got := get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_test_4eC39"}}), "/charges")
	if got["user"] != "sk_test_4eC39" || got["pass"] != "" {
		t.Errorf("basic auth = %v", got)
	}
}

func TestCaseChoosesSandboxOrProduction(t *testing.T) {
	prod := httptest.NewServer(http.HandlerFunc(echo))
	defer prod.Close()
	sandbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"env":"sandbox"}`)) }))
	defer sandbox.Close()
	src := strings.ReplaceAll(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri:
        $case:
          cases:
            - filter: {$eval: {$var: connectionParameters.environment}, is: sandbox}
              value: {{SANDBOX}}
          default: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}
`, "{{SANDBOX}}", sandbox.URL)
	e := newEngine(t, prod, src)
	got := get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"token": "t1", "environment": "sandbox"}}), "/x")
	if got["env"] != "sandbox" {
		t.Errorf("sandbox connection went to %v", got)
	}
	got = get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"token": "t1", "environment": "production"}}), "/x")
	if got["auth"] != "Bearer t1" {
		t.Errorf("production connection: %v", got)
	}
}

func TestOptionsChooseTheAuthVariant(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  options:
    token:
      type: client-credentials
      makeApiClient:
        mapping:
          baseUri: {{URL}}
          headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
    basic:
      type: client-credentials
      makeApiClient:
        mapping:
          baseUri: {{URL}}
          auth: {username: {$var: credentials.email}, password: {$var: credentials.apiToken}}
`)
	if _, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"token": "x"}}); err == nil || !strings.Contains(err.Error(), "choose an option") {
		t.Errorf("no option chosen: %v", err)
	}
	got := get(t, mustClient(t, e, Connection{Option: "token", ConnectionParameters: map[string]any{"token": "abcd"}}), "/")
	if got["auth"] != "Bearer abcd" {
		t.Errorf("token option: %v", got)
	}
	got = get(t, mustClient(t, e, Connection{Option: "basic", ConnectionParameters: map[string]any{"email": "a@b.c", "apiToken": "tok9"}}), "/")
	if got["user"] != "a@b.c" || got["pass"] != "tok9" {
		t.Errorf("basic option: %v", got)
	}
}

func TestConnectionInputIsValidatedWithoutEchoingIt(t *testing.T) {
	e := newEngine(t, nil, strings.ReplaceAll(apiKeyHeader, "{{URL}}", "https://api.example.com"))
	_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{}})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != "apiKey" || !strings.Contains(err.Error(), "apiKey: is required") {
		t.Errorf("missing field: %v", err)
	}
	const canary = "canary-SECRET-7f3a"
	_, err = e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": canary}})
	if !errors.As(err, &ie) || ie.Field != "apiKey" || strings.Contains(err.Error(), canary) {
		t.Errorf("pattern mismatch: %v", err)
	}
}

// The token endpoint of these tests: POST /token exchanges a login or a
// refresh token for an access token.
type tokenServer struct {
	srv       *httptest.Server
	refreshes atomic.Int32
	current   atomic.Value // the valid access token
	bodies    chan string
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{bodies: make(chan string, 100)}
	ts.current.Store("old-token")
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			var in map[string]string
			json.NewDecoder(r.Body).Decode(&in)
			if in["email"] != "ann@example.com" || in["password"] != "hunter22" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"token": ts.current.Load(), "refresh": "r1"})
		case "/token":
			ts.refreshes.Add(1)
			time.Sleep(20 * time.Millisecond) // let concurrent requests pile up
			next := "new-token"
			ts.current.Store(next)
			json.NewEncoder(w).Encode(map[string]any{"token": next})
		case "/soft":
			// Some APIs answer 200 with an error body when the token expired.
			if r.Header.Get("Authorization") != "Bearer "+ts.current.Load().(string) {
				w.Write([]byte(`{"ok":false,"error":"token_expired"}`))
				return
			}
			w.Write([]byte(`{"ok":true}`))
		default:
			if r.Header.Get("Authorization") != "Bearer "+ts.current.Load().(string) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			body, _ := io.ReadAll(r.Body)
			ts.bodies <- string(body)
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

const refreshingConnector = `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
      responseHandlers:
        - match: {$eval: {$var: response.data.error}, is: token_expired}
          error: {key: access_token_expired, message: token expired}
  refreshCredentials:
    code: |
      export default async function ({ credentials, apiClient }) {
        const res = await apiClient.post('/token', { refresh: credentials.refresh })
        return { token: res.token }
      }
`

func TestRefreshOn401ReplaysThePostBody(t *testing.T) {
	ts := newTokenServer(t)
	var changes []CredentialsChange
	e := newEngine(t, ts.srv, refreshingConnector, WithCredentialsHook(func(_ context.Context, c CredentialsChange) error {
		changes = append(changes, c)
		return nil
	}))
	cl := mustClient(t, e, Connection{ID: "conn-1", Credentials: map[string]any{"token": "stale", "refresh": "r1"}})
	out, err := cl.Post(context.Background(), "/items", map[string]any{"name": "widget"})
	if err != nil {
		t.Fatal(err)
	}
	if out.(map[string]any)["ok"] != true {
		t.Errorf("out = %v", out)
	}
	if body := <-ts.bodies; body != `{"name":"widget"}` {
		t.Errorf("replayed body = %q", body)
	}
	if ts.refreshes.Load() != 1 || cl.Credentials()["token"] != "new-token" || cl.Credentials()["refresh"] != "r1" {
		t.Errorf("refreshes %d, credentials %v", ts.refreshes.Load(), cl.Credentials())
	}
	if len(changes) != 1 || changes[0].Reason != "refresh" || changes[0].Connection.ID != "conn-1" || changes[0].Connection.Credentials["token"] != "new-token" || changes[0].Version != 2 {
		t.Errorf("hook saw %+v", changes)
	}
}

func TestUnreplayableBodyIsNotRetried(t *testing.T) {
	ts := newTokenServer(t)
	cl := mustClient(t, newEngine(t, ts.srv, refreshingConnector), Connection{Credentials: map[string]any{"token": "stale"}})
	req, _ := http.NewRequest(http.MethodPost, "/items", io.NopCloser(strings.NewReader("once")))
	resp, err := cl.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || ts.refreshes.Load() != 0 {
		t.Errorf("status %d, refreshes %d", resp.StatusCode, ts.refreshes.Load())
	}
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	ts := newTokenServer(t)
	cl := mustClient(t, newEngine(t, ts.srv, refreshingConnector), Connection{Credentials: map[string]any{"token": "stale"}})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := cl.Get(context.Background(), "/items"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ts.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes for 20 concurrent requests, want 1", n)
	}
}

func TestResponseHandlerTurns200IntoExpiredToken(t *testing.T) {
	ts := newTokenServer(t)
	cl := mustClient(t, newEngine(t, ts.srv, refreshingConnector), Connection{Credentials: map[string]any{"token": "stale"}})
	out, err := cl.Get(context.Background(), "/soft")
	if err != nil || out.(map[string]any)["ok"] != true || ts.refreshes.Load() != 1 {
		t.Fatalf("out %v, err %v, refreshes %d", out, err, ts.refreshes.Load())
	}
	// Without a way to refresh, the handler's verdict is a typed error.
	e := newEngine(t, ts.srv, strings.Split(refreshingConnector, "  refreshCredentials:")[0])
	cl = mustClient(t, e, Connection{Credentials: map[string]any{"token": "stale"}})
	_, err = cl.Get(context.Background(), "/soft")
	var ce *ConnectionError
	if !errors.Is(err, ErrAccessTokenExpired) || !errors.As(err, &ce) || ce.Message != "token expired" {
		t.Errorf("err = %v", err)
	}
}

func TestCredentialsFromLoginViaJavaScript(t *testing.T) {
	ts := newTokenServer(t)
	var saved atomic.Value
	e := newEngine(t, ts.srv, `name: C
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {email: {type: string}, password: {type: string}}
      required: [email, password]
  getCredentialsFromConnectionParameters:
    code: |
      export default async function ({ connectionParameters, apiClient }) {
        const res = await apiClient.post('/login', { email: connectionParameters.email, password: connectionParameters.password })
        return { token: res.token, refresh: res.refresh }
      }
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
`, WithCredentialsHook(func(_ context.Context, c CredentialsChange) error { saved.Store(c); return nil }))
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"email": "ann@example.com", "password": "hunter22"}})
	if _, err := cl.Get(context.Background(), "/items"); err != nil {
		t.Fatal(err)
	}
	c, _ := saved.Load().(CredentialsChange)
	if c.Reason != "connection input" || c.Connection.Credentials["token"] != "old-token" {
		t.Errorf("hook saw %+v", c)
	}
	_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"email": "ann@example.com", "password": "wrong-pass-999"}})
	var me *MethodError
	if !errors.As(err, &me) || me.Method != "getCredentialsFromConnectionParameters" || strings.Contains(err.Error(), "wrong-pass-999") {
		t.Errorf("bad login: %v", err)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 || strings.HasSuffix(r.URL.Path, "/always") {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	cl := mustClient(t, newEngine(t, srv, apiKeyHeader), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_a1"}})
	start := time.Now()
	if _, err := cl.Get(context.Background(), "/once"); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); calls.Load() != 2 || waited < 900*time.Millisecond {
		t.Errorf("%d calls after %v; want 2 after Retry-After: 1", calls.Load(), waited)
	}
	calls.Store(1)
	_, err := cl.Get(context.Background(), "/always")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || calls.Load() != 4 {
		t.Errorf("bounded retries: err %v after %d calls, want 429 after 3", err, calls.Load()-1)
	}
	// A Retry-After longer than the client will wait returns at once.
	e := newEngine(t, srv, apiKeyHeader, WithRateLimitRetries(3, 500*time.Millisecond))
	calls.Store(1)
	start = time.Now()
	_, err = mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_a1"}}).Get(context.Background(), "/always")
	if !errors.As(err, &he) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("long Retry-After: %v after %v", err, time.Since(start))
	}
}

func TestHostSafety(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("credentials reached another host: %v", r.Header)
	}))
	defer other.Close()
	cl := mustClient(t, newEngine(t, srv, apiKeyHeader), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_a1"}})
	_, err := cl.Get(context.Background(), other.URL+"/steal")
	var he *HostError
	if !errors.As(err, &he) {
		t.Errorf("absolute URL to another host: %v", err)
	}
	// A redirect to another host is not followed.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	}))
	defer redirect.Close()
	cl = mustClient(t, newEngine(t, redirect, apiKeyHeader), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_a1"}})
	resp, err := cl.HTTPClient().Get("/start")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("redirect: %v %v", resp, err)
	}

	subdomain := `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {$tpl: {template: "https://{sub}.zendesk.com/api/v2", values: {sub: {$var: connectionParameters.subdomain}}}}
      headers: {Authorization: {$var: credentials.token}}
`
	e := newEngine(t, nil, subdomain)
	for _, bad := range []string{"evil.com#", "x.evil.com/", "evil.com?", "user@evil.com", `evil.com\`} {
		_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"subdomain": bad, "token": "tok-secret"}})
		if err == nil || !strings.Contains(err.Error(), "would change the API host") && !strings.Contains(err.Error(), "user information") && !strings.Contains(err.Error(), "not an absolute") {
			t.Errorf("subdomain %q: %v", bad, err)
		}
	}
	cl = mustClient(t, e, Connection{ConnectionParameters: map[string]any{"subdomain": "acme", "token": "tok-secret"}})
	if got := cl.BaseURL().String(); got != "https://acme.zendesk.com/api/v2" {
		t.Errorf("base = %s", got)
	}
}

func TestJavaScriptTestCallsAPIClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "sk_good" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"id":"acct_1","name":"Acme"}`))
	}))
	defer srv.Close()
	e := newEngine(t, srv, apiKeyHeader+`  test:
    code: |
      export default async function ({ apiClient }) {
        const me = await apiClient.get('/me', { expand: 'all' })
        return me.id === 'acct_1'
      }
`)
	if err := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_good"}}).Test(context.Background()); err != nil {
		t.Errorf("good key: %v", err)
	}
	err := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_bad1"}}).Test(context.Background())
	if !errors.Is(err, ErrTestFailed) || !errors.Is(err, ErrAccessTokenExpired) || strings.Contains(err.Error(), "sk_bad1") {
		t.Errorf("bad key: %v", err)
	}
}

func TestMappingAndRequestTests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/account" || r.URL.Query().Get("fields") != "id" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	e := newEngine(t, srv, apiKeyHeader+`  test:
    implementationType: rest-api-mapping
    mapping: {path: /account, method: get, requestMapping: {fields: id}}
`)
	if err := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_x1"}}).Test(context.Background()); err != nil {
		t.Errorf("rest-api-mapping test: %v", err)
	}
	e = newEngine(t, srv, apiKeyHeader+`  test:
    mapping: {$eval: {$var: credentials.apiKey}, isNotEmpty: true}
`)
	if err := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_x1"}}).Test(context.Background()); err != nil {
		t.Errorf("mapping test: %v", err)
	}
}

func TestCredentialsHookFailureIsRetried(t *testing.T) {
	ts := newTokenServer(t)
	var fail atomic.Bool
	fail.Store(true)
	var saves atomic.Int32
	e := newEngine(t, ts.srv, refreshingConnector, WithCredentialsHook(func(_ context.Context, c CredentialsChange) error {
		saves.Add(1)
		if fail.Load() {
			return errors.New("database is down")
		}
		return nil
	}))
	cl := mustClient(t, e, Connection{Credentials: map[string]any{"token": "stale"}})
	if _, err := cl.Get(context.Background(), "/items"); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("first request: %v", err)
	}
	if cl.Credentials()["token"] != "new-token" {
		t.Error("the refreshed token must stay in use")
	}
	fail.Store(false)
	if _, err := cl.Get(context.Background(), "/items"); err != nil {
		t.Fatal(err)
	}
	if saves.Load() != 2 || ts.refreshes.Load() != 1 {
		t.Errorf("saves %d, refreshes %d", saves.Load(), ts.refreshes.Load())
	}
}

func TestErrorsNeverShowCredentials(t *testing.T) {
	const canary = "canary-9d2e-SECRET"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    code: |
      export default function ({ credentials }) {
        if (credentials.mode === 'throw') throw new Error('bad token ' + credentials.token)
        return { baseUri: '{{URL}}', query: { key: credentials.token } }
      }
`)
	_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"token": canary, "mode": "throw"}})
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("method error: %v", err)
	}
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"token": canary}})
	_, err = cl.Get(context.Background(), "/x")
	var he *HTTPError
	if !errors.As(err, &he) || strings.Contains(err.Error(), canary) {
		t.Errorf("HTTP error: %v", err)
	}
	if got := cl.Redact("GET /x?key=" + canary); strings.Contains(got, canary) {
		t.Errorf("Redact: %s", got)
	}
}

func TestJavaScriptMakeApiClientReturningRestApiClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    code: |
      import { RestApiClient } from '@integration-app/connector-sdk'
      export default function makeApiClient({ credentials }: any) {
        return new RestApiClient({
          baseUri: '{{URL}}/api',
          headers: { Authorization: 'Bearer ' + credentials.token },
          responseHandlers: [{ match: false, error: { key: 'never' } }],
        })
      }
`)
	got := get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"token": "js-tok"}}), "/ping")
	if got["auth"] != "Bearer js-tok" || got["path"] != "/api/ping" {
		t.Errorf("server saw %v", got)
	}
}

func TestMethodConsoleOutputIsRedacted(t *testing.T) {
	const canary = "canary-LOG-0b5e"
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping: {baseUri: "{{URL}}", headers: {X-Api-Key: {$var: credentials.apiKey}}}
  test:
    code: |
      export default async function ({ credentials, apiClient }) {
        console.log('testing with', credentials.apiKey, { key: credentials.apiKey })
        try { await apiClient.get('/nowhere', { k: credentials.apiKey }) } catch (e) { console.warn(String(e)) }
        return true
      }
`, WithLogger(logger))
	if err := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": canary}}).Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "testing with") || strings.Contains(buf.String(), canary) {
		t.Errorf("log:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
