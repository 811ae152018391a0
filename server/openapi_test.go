package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

// outOfContract are the routes the admin API's contract leaves out, as its
// description says: the proxy, the connect page and the OAuth callback.
var outOfContract = []string{"/v1/proxy/{id}/{path...}", "GET /connect/{token}", "POST /connect/{token}", "GET /connect/{token}/device/{poll}", "GET /oauth/callback"}

func TestOpenAPIDocumentIsServedAndDocsCopyIsCurrent(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Served without the API key: it holds nothing about the deployment.
	status, body := e.request("GET", "/v1/openapi.json", nil, "")
	if status != http.StatusOK || !bytes.Equal(body, server.OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json: %d %.200s", status, body)
	}
	docs, err := os.ReadFile("../docs/admin-api.openapi.json")
	if err != nil || !bytes.Equal(docs, server.OpenAPI()) {
		t.Fatalf("docs/admin-api.openapi.json is not server/openapi.json (%v): run go generate ./server", err)
	}
}

// TestContractCoversEveryRoute holds the registered routes against the
// document: every route is documented or named as out of scope, every
// documented operation is served, and an operation needs the API key
// (answers 401 without it) exactly when the document says so.
func TestContractCoversEveryRoute(t *testing.T) {
	doc, _ := loadContract(t)
	srv, err := server.New(server.Config{Engine: engine.New(), Store: store.NewMemory(), Cipher: testCipher(t), APIKey: testAdminKey, PublicURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	documented := map[string]bool{} // "METHOD /path" -> needs the key
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			secured := len(doc.Security) > 0
			if op.Security != nil {
				secured = len(*op.Security) > 0
			}
			documented[method+" "+path] = secured
		}
	}
	registered := map[string]bool{}
	for _, pattern := range srv.Patterns() {
		registered[pattern] = true
		if slices.Contains(outOfContract, pattern) {
			continue
		}
		secured, ok := documented[pattern]
		if !ok {
			t.Errorf("route %q is served but not in server/openapi.json (document it, or add it to outOfContract and the document's description)", pattern)
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		req, _ := http.NewRequest(method, ts.URL+pathParam.ReplaceAllString(path, "x"), nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if keyed := resp.StatusCode == http.StatusUnauthorized; keyed != secured {
			t.Errorf("route %q: the document says the API key is needed: %v; without one the server answers %d", pattern, secured, resp.StatusCode)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("server/openapi.json documents %q, which the server does not serve", op)
		}
	}
	for _, p := range outOfContract {
		if !registered[p] {
			t.Errorf("outOfContract names %q, which the server does not serve", p)
		}
		path := p[strings.Index(p, "/"):]
		if !strings.Contains(doc.Info.Description, path) {
			t.Errorf("the document's description does not say %s is out of its scope", path)
		}
	}
}

// pathParam matches a path parameter of a route pattern.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// TestEveryAdminOperationAnswersAsDocumented sends each operation of the
// contract the requests that make each of its documented answers, through
// contractCheck, and fails when an answer was never seen.
func TestEveryAdminOperationAnswersAsDocumented(t *testing.T) {
	doc, _ := loadContract(t)
	api := newAPIServer(t, canaryAPIKey)
	st := &breakableStore{Store: store.NewMemory()}
	conns := map[string]string{"keyed": keyedConnector(api.URL), "oauthy": contractOAuthConnector, "throwing": throwingConnector, "unset": unconfiguredConnector}
	seen := &seenAnswers{m: map[string]bool{}}

	// A key is read from the store on every request (recheckAfter), so a
	// store that cannot check it answers 500.
	e := newEnv(t, envOptions{connectors: conns, store: st, recheckAfter: time.Nanosecond})
	e.client.Transport.(*contractCheck).seen = seen.add
	exerciseAdminAPI(t, e, st)

	noKey := ""
	open := newEnv(t, envOptions{connectors: conns, apiKey: &noKey})
	open.client.Transport.(*contractCheck).seen = seen.add
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			p := strings.NewReplacer("{key}", "keyed", "{id}", "conn_none").Replace(path)
			// A rebinding Host and a cross-site browser request, refused
			// on a server without a key.
			req, _ := http.NewRequest(method, open.URL+p, nil)
			req.Host = "evil.example"
			sendDiscard(t, open.client, req, http.StatusMisdirectedRequest)
			if method != http.MethodGet { // safe methods pass cross-origin protection
				req, _ = http.NewRequest(method, open.URL+p, nil)
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				sendDiscard(t, open.client, req, http.StatusForbidden)
			}
		}
	}

	// Answers no request can provoke from outside.
	unreachable := map[string]string{
		"createConnectSession 500": "sealing a link fails only with a broken cipher",
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				k := op.OperationID + " " + status
				if !seen.has(k) && unreachable[k] == "" {
					t.Errorf("%s %s: the documented answer %s was never seen", method, path, status)
				}
			}
		}
	}
}

// exerciseAdminAPI makes every answer of the admin API on a server with a key.
func exerciseAdminAPI(t *testing.T, e *env, st *breakableStore) {
	want := func(method, path string, body any, key string, status int) []byte {
		t.Helper()
		got, resp := e.request(method, path, body, key)
		if got != status {
			t.Errorf("%s %s: %d, want %d: %.300s", method, path, got, status, resp)
		}
		return resp
	}
	ops := []struct{ method, path string }{
		{"GET", "/v1/connectors"}, {"GET", "/v1/connectors/keyed"}, {"POST", "/v1/connections"}, {"GET", "/v1/connections"},
		{"GET", "/v1/connections/x"}, {"DELETE", "/v1/connections/x"}, {"POST", "/v1/connect-sessions"},
		{"POST", "/v1/api-keys"}, {"GET", "/v1/api-keys"}, {"DELETE", "/v1/api-keys/x"},
		{"GET", "/v1/events"}, {"GET", "/v1/events/x/deliveries"}, {"POST", "/v1/events/x/redeliver"},
	}
	for _, op := range ops {
		want(op.method, op.path, nil, "", http.StatusUnauthorized)
		want(op.method, op.path, nil, "wrong-key", http.StatusUnauthorized)
	}
	want("GET", "/v1/openapi.json", nil, "", 200)
	want("GET", "/metrics", nil, "", 200)
	want("GET", "/healthz", nil, "", 200)

	want("GET", "/v1/connectors", nil, testAdminKey, 200)
	want("GET", "/v1/connectors/keyed", nil, testAdminKey, 200)
	want("GET", "/v1/connectors/nope", nil, testAdminKey, 404)

	create := func(body any, status int) []byte { return want("POST", "/v1/connections", body, testAdminKey, status) }
	create(map[string]any{"account": "acc-1", "connector": "keyed", "bogus": 1}, 400)
	create(map[string]any{"account": "acc-1", "connector": "nope"}, 404)
	create(map[string]any{"connector": "oauthy", "account": "a"}, 409)
	create(map[string]any{"account": "acc-1", "connector": "keyed", "input": map[string]any{"apiKey": 42}}, 422)
	create(map[string]any{"account": "acc-1", "connector": "keyed", "input": map[string]any{"apiKey": "wrong"}}, 422)
	create(map[string]any{"account": "acc-1", "connector": "throwing", "input": map[string]any{}}, 502)
	st.breakOnly(t, "PutConnection", func() {
		create(map[string]any{"account": "acc-1", "connector": "keyed", "input": map[string]any{"apiKey": canaryAPIKey}}, 500)
	})
	id := e.createKeyed(canaryAPIKey, "acc-1")
	e.createKeyed(canaryAPIKey, "")

	want("GET", "/v1/connections", nil, testAdminKey, 200)
	want("GET", "/v1/connections?account=acc-1", nil, testAdminKey, 200)
	want("GET", "/v1/connections/"+id, nil, testAdminKey, 200)
	want("GET", "/v1/connections/conn_none", nil, testAdminKey, 404)
	st.breakOnly(t, "Get", func() { want("GET", "/v1/connections/"+id, nil, testAdminKey, 200) }) // state "unknown"
	st.breakOnly(t, "unreadable", func() { want("GET", "/v1/connections", nil, testAdminKey, 200) })
	st.breakOnly(t, "ListConnections", func() { want("GET", "/v1/connections", nil, testAdminKey, 500) })
	st.breakOnly(t, "GetConnection", func() {
		want("GET", "/v1/connections/"+id, nil, testAdminKey, 500)
		want("DELETE", "/v1/connections/"+id, nil, testAdminKey, 500)
		want("GET", "/healthz", nil, "", 503)
	})
	st.breakOnly(t, "DeleteConnection", func() { want("DELETE", "/v1/connections/"+id, nil, testAdminKey, 500) })
	var events struct{ Events []struct{ ID string } }
	json.Unmarshal(want("GET", "/v1/events?limit=5", nil, testAdminKey, 200), &events)
	if len(events.Events) == 0 {
		t.Fatal("no events listed after connections were created")
	}
	want("GET", "/v1/events?limit=0", nil, testAdminKey, 400)
	want("GET", "/v1/events/"+events.Events[0].ID+"/deliveries", nil, testAdminKey, 200)
	want("GET", "/v1/events/evt_none/deliveries", nil, testAdminKey, 404)
	want("POST", "/v1/events/"+events.Events[0].ID+"/redeliver", nil, testAdminKey, 202)
	want("POST", "/v1/events/evt_none/redeliver", nil, testAdminKey, 404)
	st.breakOnly(t, "RedeliverEvent", func() { want("POST", "/v1/events/"+events.Events[0].ID+"/redeliver", nil, testAdminKey, 500) })
	st.breakOnly(t, "ListEvents", func() { want("GET", "/v1/events", nil, testAdminKey, 500) })
	st.breakOnly(t, "GetEvent", func() { want("GET", "/v1/events/"+events.Events[0].ID+"/deliveries", nil, testAdminKey, 500) })
	want("DELETE", "/v1/connections/"+id, nil, testAdminKey, 200)
	want("DELETE", "/v1/connections/"+id, nil, testAdminKey, 404)

	session := func(body any, status int) []byte {
		return want("POST", "/v1/connect-sessions", body, testAdminKey, status)
	}
	session(map[string]any{"connector": "keyed", "account": "acc-1"}, 201)
	session(map[string]any{"connector": "keyed", "account": "acc-1", "redirectUrl": "https://app.example/done"}, 201)
	session(map[string]any{"connector": "keyed", "account": "acc-1", "redirectUrl": "javascript:alert(1)"}, 400)
	session(map[string]any{"connector": "keyed", "account": "acc-1", "option": "nope"}, 400)
	session(map[string]any{"connector": "nope", "account": "acc-1"}, 404)
	session(map[string]any{"connector": "unset", "account": "acc-1"}, 409)
	session(map[string]any{"connector": "keyed"}, 400)
	session(map[string]any{"connectionId": "conn_missing", "account": "acc-1"}, 404)

	newKey := func(body any, status int) []byte { return want("POST", "/v1/api-keys", body, testAdminKey, status) }
	newKey(map[string]any{"name": "x", "scopes": []string{"proxy"}, "bogus": 1}, 400)
	newKey(map[string]any{"name": "x", "scopes": []string{"admin"}, "account": "acc-1"}, 400)
	st.breakOnly(t, "PutAPIKey", func() { newKey(map[string]any{"name": "x", "scopes": []string{"proxy"}}, 500) })
	var made struct{ ID, Key string }
	json.Unmarshal(newKey(map[string]any{"name": "proxy only", "scopes": []string{"proxy"}}, 201), &made)
	want("GET", "/v1/api-keys", nil, testAdminKey, 200)
	st.breakOnly(t, "ListAPIKeys", func() { want("GET", "/v1/api-keys", nil, testAdminKey, 500) })
	bodies := map[string]any{ // requests the contract allows
		"/v1/connections": map[string]any{"connector": "keyed", "account": "acc-1"}, "/v1/connect-sessions": map[string]any{"connector": "keyed", "account": "acc-1"},
		"/v1/api-keys": map[string]any{"name": "x", "scopes": []string{"proxy"}},
	}
	for _, op := range ops { // a key without the scope, and a store that cannot check it
		var body any
		if op.method == "POST" {
			body = bodies[op.path]
		}
		want(op.method, op.path, body, made.Key, http.StatusForbidden)
		st.breakOnly(t, "GetAPIKey", func() { want(op.method, op.path, body, made.Key, http.StatusInternalServerError) })
	}
	want("DELETE", "/v1/api-keys/nope", nil, testAdminKey, 404)
	st.breakOnly(t, "RevokeAPIKey", func() { want("DELETE", "/v1/api-keys/"+made.ID, nil, testAdminKey, 500) })
	want("DELETE", "/v1/api-keys/"+made.ID, nil, testAdminKey, 200)
	want("GET", "/v1/connections", nil, made.Key, http.StatusUnauthorized)
	e.assertNoCanaries()
}

// sendDiscard sends req and checks its status.
func sendDiscard(t *testing.T, c *http.Client, req *http.Request, status int) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Errorf("%s %s (Host %s): %d, want %d", req.Method, req.URL.Path, req.Host, resp.StatusCode, status)
	}
}

// seenAnswers records "operationId status" pairs contractCheck validated.
type seenAnswers struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *seenAnswers) add(operationID string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[fmt.Sprintf("%s %d", operationID, status)] = true
}

func (s *seenAnswers) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

// breakableStore fails the store methods named in broken, to provoke the
// API's store errors; "unreadable" lists every connection as unreadable.
type breakableStore struct {
	server.Store
	mu     sync.Mutex
	broken string
}

var errStoreDown = errors.New("store down (test)")

// breakOnly runs f with the method named broken.
func (s *breakableStore) breakOnly(t *testing.T, method string, f func()) {
	t.Helper()
	s.mu.Lock()
	s.broken = method
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.broken = ""
		s.mu.Unlock()
	}()
	f()
}

func (s *breakableStore) is(method string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken == method
}

func (s *breakableStore) Get(ctx context.Context, id string) (store.Record, error) {
	if s.is("Get") {
		return store.Record{}, errStoreDown
	}
	return s.Store.Get(ctx, id)
}

func (s *breakableStore) ListEvents(ctx context.Context, limit int) ([]store.Event, error) {
	if s.is("ListEvents") {
		return nil, errStoreDown
	}
	return s.Store.ListEvents(ctx, limit)
}

func (s *breakableStore) RedeliverEvent(ctx context.Context, id string) error {
	if s.is("RedeliverEvent") {
		return errStoreDown
	}
	return s.Store.RedeliverEvent(ctx, id)
}

func (s *breakableStore) GetEvent(ctx context.Context, id string) (store.Event, error) {
	if s.is("GetEvent") {
		return store.Event{}, errStoreDown
	}
	return s.Store.GetEvent(ctx, id)
}

func (s *breakableStore) PutConnection(ctx context.Context, info store.ConnectionInfo) error {
	if s.is("PutConnection") {
		return errStoreDown
	}
	return s.Store.PutConnection(ctx, info)
}

func (s *breakableStore) GetConnection(ctx context.Context, id string) (store.ConnectionInfo, error) {
	if s.is("GetConnection") {
		return store.ConnectionInfo{}, errStoreDown
	}
	return s.Store.GetConnection(ctx, id)
}

func (s *breakableStore) ListConnections(ctx context.Context, account string) ([]store.ConnectionInfo, error) {
	if s.is("ListConnections") {
		return nil, errStoreDown
	}
	infos, err := s.Store.ListConnections(ctx, account)
	if s.is("unreadable") {
		for i := range infos {
			infos[i].Unreadable = errStoreDown
		}
	}
	return infos, err
}

func (s *breakableStore) PutAPIKey(ctx context.Context, k store.APIKey) error {
	if s.is("PutAPIKey") {
		return errStoreDown
	}
	return s.Store.PutAPIKey(ctx, k)
}

func (s *breakableStore) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	if s.is("GetAPIKey") {
		return store.APIKey{}, errStoreDown
	}
	return s.Store.GetAPIKey(ctx, id)
}

func (s *breakableStore) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	if s.is("ListAPIKeys") {
		return nil, errStoreDown
	}
	return s.Store.ListAPIKeys(ctx)
}

func (s *breakableStore) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	if s.is("RevokeAPIKey") {
		return errStoreDown
	}
	return s.Store.RevokeAPIKey(ctx, id, at)
}

func (s *breakableStore) DeleteConnection(ctx context.Context, id string) error {
	if s.is("DeleteConnection") {
		return errStoreDown
	}
	return s.Store.DeleteConnection(ctx, id)
}

// contractOAuthConnector needs a person to authorize: POST /v1/connections
// answers 409 without any request to the provider.
const contractOAuthConnector = `key: oauthy
name: OAuthy
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: client-1
      authorizeUri: https://auth.example/authorize
      tokenUri: https://auth.example/token
  makeApiClient:
    mapping:
      baseUri: https://api.example
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

// unconfiguredConnector requires a clientId no params file gives: 409
// connector_not_configured.
const unconfiguredConnector = `key: unset
name: Unset
parametersSchema:
  type: object
  required: [clientId]
  properties: {clientId: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      authorizeUri: https://auth.example/authorize
      tokenUri: https://auth.example/token
  makeApiClient:
    mapping:
      baseUri: https://api.example
`

// throwingConnector fails to make a client: 502 connect_failed.
const throwingConnector = `key: throwing
name: Throwing
auth:
  type: client-credentials
  makeApiClient:
    code: |
      export default function () { throw new Error('no client today') }
`

// TestContractExamplesMatchTheirSchemas keeps the document's examples true:
// a reader copies them.
func TestContractExamplesMatchTheirSchemas(t *testing.T) {
	doc, _ := loadContract(t)
	n := 0
	for name, ref := range doc.Components.Schemas {
		for i, ex := range ref.Value.Examples {
			n++
			if err := ref.Value.VisitJSON(ex, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("schema %s, example %d: %v", name, i, err)
			}
		}
	}
	if n == 0 {
		t.Error("the document has no examples")
	}
}
