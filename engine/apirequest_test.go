package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

// apiServer answers /v1/current-user with {"id": ...} for the key sk_good
// and 401 otherwise, and counts every request it sees.
type apiServer struct {
	srv  *httptest.Server
	hits atomic.Int32
	last atomic.Pointer[http.Request]
	body atomic.Value
}

func newAPIServer(t *testing.T, answer string) *apiServer {
	s := &apiServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.body.Store(string(b))
		s.last.Store(r.Clone(context.Background()))
		switch r.Header.Get("X-Api-Key") {
		case "sk_good":
		case "sk_forbidden":
			w.WriteHeader(http.StatusForbidden)
			return
		default:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Plan", "pro")
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func runTest(t *testing.T, e *Engine, key string) error {
	t.Helper()
	return mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": key}}).Test(context.Background())
}

// The integration.app docs' "API Request Implementation" of test, as a
// file next to spec.yml with implementationType: mapping.
// https://docs.integration.app/docs/test, "API Request Implementation".
func TestDocAPIRequestTestSendsTheRequest(t *testing.T) {
	s := newAPIServer(t, `{"id":"u_1","name":"Ada"}`)
	spec := strings.ReplaceAll(apiKeyHeader, "{{URL}}", s.srv.URL) + "  test:\n    implementationType: mapping\n"
	fsys := fstest.MapFS{
		"c/spec.yml": {Data: []byte(spec)},
		"c/auth/test.map.yml": {Data: []byte(`path: /current-user
method: get
responseMapping:
  $eval:
    $var: $.response.id
  isNotEmpty: true
`)},
	}
	e := New()
	if _, diags := e.LoadFS(fsys, "c"); diags.HasErrors() {
		t.Fatalf("connector does not load:\n%s", diags.Error())
	}
	if err := runTest(t, e, "sk_good"); err != nil {
		t.Fatalf("right key: %v", err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("right key: the server saw %d requests, want exactly 1", n)
	}
	if r := s.last.Load(); r.Method != http.MethodGet || r.URL.Path != "/v1/current-user" {
		t.Errorf("request was %s %s, want GET /v1/current-user", r.Method, r.URL.Path)
	}
	for _, key := range []string{"sk_bad", "sk_forbidden"} {
		err := runTest(t, e, key)
		if !errors.Is(err, ErrTestFailed) {
			t.Errorf("%s: test passed (%v), want a failure", key, err)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error shows the key: %v", key, err)
		}
	}
}

// Membrane's test page: type rest-api-mapping with the same responseMapping.
// https://docs.getmembrane.com/docs/test, "REST API Mapping Implementation".
func TestRestAPIMappingTestEvaluatesResponseMapping(t *testing.T) {
	cases := []struct {
		name, answer, mapping string
		pass                  bool
	}{
		{"id present", `{"id":"u_1"}`, `{$eval: {$var: $.response.id}, isNotEmpty: true}`, true},
		{"id missing", `{"name":"Ada"}`, `{$eval: {$var: $.response.id}, isNotEmpty: true}`, false},
		{"id empty", `{"id":""}`, `{$eval: {$var: $.response.id}, isNotEmpty: true}`, false},
		{"false literal", `{"id":"u_1"}`, `false`, false},
		// Membrane's rest-api-mapping page names response.data,
		// response.headers and response.statusCode.
		// https://docs.getmembrane.com/docs/references/functions/function-types/rest-api-mapping, "Variables".
		{"data", `{"account":{"active":true}}`, `{$var: $.response.data.account.active}`, true},
		{"data false", `{"account":{"active":false}}`, `{$var: $.response.data.account.active}`, false},
		{"status code", `{}`, `{$eval: {$var: $.response.statusCode}, is: 200}`, true},
		{"header", `{}`, `{$eval: {$var: $.response.headers.x-plan}, is: pro}`, true},
		{"header mismatch", `{}`, `{$eval: {$var: $.response.headers.x-plan}, is: free}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newAPIServer(t, c.answer)
			e := newEngine(t, s.srv, apiKeyHeader+`  test:
    implementationType: rest-api-mapping
    mapping:
      path: /current-user
      method: get
      responseMapping: `+c.mapping+"\n")
			err := runTest(t, e, "sk_good")
			if c.pass && err != nil || !c.pass && !errors.Is(err, ErrTestFailed) {
				t.Errorf("pass=%v, got %v", c.pass, err)
			}
			if n := s.hits.Load(); n != 1 {
				t.Errorf("the server saw %d requests, want exactly 1", n)
			}
		})
	}
}

// requestMapping.query, .headers, .data and .pathParameters reach the API.
// https://docs.getmembrane.com/docs/references/functions/function-types/rest-api-mapping, "Format".
func TestRestAPIMappingSendsRequestMapping(t *testing.T) {
	s := newAPIServer(t, `{"ok":true}`)
	e := newEngine(t, s.srv, apiKeyHeader+`  test:
    implementationType: rest-api-mapping
    mapping:
      path: /projects/{projectId}/check
      method: post
      requestMapping:
        query: {fields: id, limit: 1}
        headers: {X-Trace: t-1, X-Who: {$var: connectionParameters.team}}
        data: {probe: true}
        pathParameters: {projectId: p 1}
      responseMapping: {$var: $.response.ok}
`)
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_good", "team": "blue"}})
	if err := cl.Test(context.Background()); err != nil {
		t.Fatalf("test: %v", err)
	}
	r := s.last.Load()
	if r.Method != http.MethodPost || r.URL.EscapedPath() != "/v1/projects/p%201/check" {
		t.Errorf("request was %s %s", r.Method, r.URL.EscapedPath())
	}
	if q := r.URL.Query(); q.Get("fields") != "id" || q.Get("limit") != "1" {
		t.Errorf("query %v, want fields=id&limit=1", q)
	}
	if r.Header.Get("X-Trace") != "t-1" || r.Header.Get("X-Who") != "blue" {
		t.Errorf("headers %v, want X-Trace and X-Who from requestMapping", r.Header)
	}
	if b := s.body.Load(); b != `{"probe":true}` {
		t.Errorf("body %v, want requestMapping.data", b)
	}
}

// A wrong key fails a rest-api-mapping test without responseMapping too, and
// a passing one has sent exactly one request.
func TestRestAPIMappingWithoutResponseMapping(t *testing.T) {
	s := newAPIServer(t, `{}`)
	e := newEngine(t, s.srv, apiKeyHeader+`  test:
    implementationType: rest-api-mapping
    mapping: {path: /current-user, method: get}
`)
	if err := runTest(t, e, "sk_good"); err != nil || s.hits.Load() != 1 {
		t.Errorf("right key: %v after %d requests", err, s.hits.Load())
	}
	if err := runTest(t, e, "sk_forbidden"); !errors.Is(err, ErrTestFailed) {
		t.Errorf("403: %v", err)
	}
}

// Mistakes in an API-request body are refused when the connector loads,
// never at run time.
func TestAPIRequestBodyIsCheckedAtLoad(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"unknown key":        {`{path: /me, methd: get}`, `no key "methd"`},
		"no path":            {`{method: get, responseMapping: true}`, "needs a path"},
		"bad method":         {`{path: /me, method: fetch}`, `method "fetch" is not one of`},
		"mixed request keys": {`{path: /me, requestMapping: {query: {a: 1}, limit: 2}}`, "requestMapping mixes query with limit"},
		"formula body":       {`{$var: credentials.x}`, "not a formula"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			src := strings.ReplaceAll(apiKeyHeader, "{{URL}}", "https://api.example.com") + "  test:\n    implementationType: rest-api-mapping\n    mapping: " + c.body + "\n"
			_, diags := New().LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml")
			if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) {
				t.Errorf("diagnostics %q, want an error with %q", diags.Error(), c.want)
			}
		})
	}
}
