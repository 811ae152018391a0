package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

// routeScopes is the scope decision of every route: a route added to the
// server without a line here fails TestEveryRouteHasAScopeDecision.
var routeScopes = map[string]string{
	"GET /healthz":                       "",
	"GET /metrics":                       "",
	"GET /v1/openapi.json":               "",
	"GET /connect/{token}":               "",
	"POST /connect/{token}":              "",
	"GET /oauth/callback":                "",
	"GET /connect/{token}/device/{poll}": "", // the browser that submitted the form (its cookie), no key
	"GET /v1/connectors":                 server.ScopeConnect,
	"GET /v1/connectors/{key}":           server.ScopeConnect,
	"POST /v1/connect-sessions":          server.ScopeConnect,
	"/v1/proxy/{id}/{path...}":           server.ScopeProxy,
	"POST /v1/connections":               server.ScopeAdmin,
	"GET /v1/connections":                server.ScopeAdmin,
	"GET /v1/connections/{id}":           server.ScopeAdmin,
	"GET /v1/events":                     server.ScopeAdmin,
	"GET /v1/events/{id}/deliveries":     server.ScopeAdmin,
	"POST /v1/events/{id}/redeliver":     server.ScopeAdmin,
	"DELETE /v1/connections/{id}":        server.ScopeAdmin,
	"POST /v1/api-keys":                  server.ScopeAdmin,
	"GET /v1/api-keys":                   server.ScopeAdmin,
	"DELETE /v1/api-keys/{keyId}":        server.ScopeAdmin,
}

// makeKey makes a stored key through the admin API and returns it and its id.
func (e *env) makeKey(name string, scopes []string, account, connector string) (key, id string) {
	e.t.Helper()
	status, body := e.api("POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes, "account": account, "connector": connector})
	if status != http.StatusCreated {
		e.t.Fatalf("creating key %s: %d %s", name, status, body)
	}
	var out struct{ ID, Key string }
	json.Unmarshal(body, &out)
	if !strings.HasPrefix(out.Key, server.KeyPrefix) {
		e.t.Fatalf("key %s does not start with %s", out.ID, server.KeyPrefix)
	}
	return out.Key, out.ID
}

func errorCode(body []byte) string {
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	return e.Error
}

// TestEveryRouteHasAScopeDecision holds the server's routes against
// routeScopes, then sends each keyed route a request with a key of each
// scope: allowed exactly when the key has the route's scope or admin.
func TestEveryRouteHasAScopeDecision(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	srv, err := server.New(server.Config{Engine: newEnv(t, envOptions{}).Engine, Store: store.NewMemory(), Cipher: testCipher(t), APIKey: testAdminKey, PublicURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.RouteScopes()
	for pattern, scope := range got {
		want, ok := routeScopes[pattern]
		if !ok {
			t.Errorf("route %q has no scope decision in routeScopes (the server gives it %q)", pattern, scope)
		} else if want != scope {
			t.Errorf("route %q needs scope %q, want %q", pattern, scope, want)
		}
	}
	for pattern := range routeScopes {
		if _, ok := got[pattern]; !ok {
			t.Errorf("routeScopes names %q, which the server does not serve", pattern)
		}
	}
	doc, _ := loadContract(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			if op.Security != nil && len(*op.Security) == 0 {
				continue // no key
			}
			if documented, _ := op.Extensions["x-connspec-scope"].(string); documented != got[pattern] {
				t.Errorf("server/openapi.json gives %s the scope %q (x-connspec-scope), the server %q", pattern, documented, got[pattern])
			}
		}
	}

	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	conn := e.createKeyed(canaryAPIKey, "acc-1")
	keys := map[string]string{}
	for _, s := range []string{server.ScopeAdmin, server.ScopeConnect, server.ScopeProxy} {
		keys[s], _ = e.makeKey(s+" key", []string{s}, "", "")
	}
	both, _ := e.makeKey("connect and proxy", []string{server.ScopeConnect, server.ScopeProxy}, "", "")
	param := regexp.MustCompile(`\{[^}]*\}`)
	for pattern, scope := range routeScopes {
		if scope == "" {
			continue
		}
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "GET", pattern
		}
		path = param.ReplaceAllStringFunc(path, func(p string) string {
			return map[string]string{"{key}": "keyed", "{id}": "conn_none", "{keyId}": "nope", "{path...}": "me"}[p]
		})
		if pattern == "/v1/proxy/{id}/{path...}" {
			path = "/v1/proxy/" + conn + "/me"
		}
		var body any
		if method == "POST" {
			body = map[string]any{}
		}
		for keyScope, key := range keys {
			status, resp := e.request(method, path, body, key)
			allowed := keyScope == server.ScopeAdmin || keyScope == scope
			refused := status == http.StatusUnauthorized || (status == http.StatusForbidden && errorCode(resp) == "scope_refused")
			if allowed == refused {
				t.Errorf("%s %s with a %s key: %d %s (allowed: %v)", method, path, keyScope, status, resp, allowed)
			}
		}
		status, resp := e.request(method, path, body, both)
		if refused := status == http.StatusForbidden && errorCode(resp) == "scope_refused"; refused != (scope == server.ScopeAdmin) {
			t.Errorf("%s %s with a connect+proxy key: %d %s", method, path, status, resp)
		}
	}
	e.assertNoCanaries()
}

// TestLimitedKeysActOnlyOnTheirAccountAndConnector: a proxy key of account
// A gets 404 for B's connection (the answer for an unknown id) and a
// connect key of A cannot make a session for B.
func TestLimitedKeysActOnlyOnTheirAccountAndConnector(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	other := newAPIServer(t, canaryAPIKey)
	otherConnector := strings.Replace(keyedConnector(other.URL), "key: keyed", "key: other", 1)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL), "other": otherConnector}})
	connA := e.createKeyed(canaryAPIKey, "acc-a")
	connB := e.createKeyed(canaryAPIKey, "acc-b")
	status, body := e.api("POST", "/v1/connections", map[string]any{"connector": "other", "account": "acc-a", "input": map[string]any{"apiKey": canaryAPIKey}})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var made struct{ ID string }
	json.Unmarshal(body, &made)
	connAOther := made.ID

	_, unknown := e.request("GET", "/v1/proxy/conn_none/me", nil, testAdminKey)
	proxyA, _ := e.makeKey("proxy A", []string{server.ScopeProxy}, "acc-a", "")
	proxyAKeyed, _ := e.makeKey("proxy A keyed", []string{server.ScopeProxy}, "acc-a", "keyed")
	for _, c := range []struct {
		key, conn string
		ok        bool
	}{
		{proxyA, connA, true}, {proxyA, connAOther, true}, {proxyA, connB, false},
		{proxyAKeyed, connA, true}, {proxyAKeyed, connAOther, false}, {proxyAKeyed, connB, false},
	} {
		status, body := e.request("GET", "/v1/proxy/"+c.conn+"/me", nil, c.key)
		if c.ok && (status != 200 || !strings.Contains(string(body), "u-1")) {
			t.Errorf("proxy to %s: %d %s, want 200", c.conn, status, body)
		}
		if !c.ok && (status != http.StatusNotFound || string(body) != string(unknown)) {
			t.Errorf("proxy to %s of another account/connector: %d %s, want the unknown-id answer %s", c.conn, status, body, unknown)
		}
	}

	connectA, _ := e.makeKey("connect A", []string{server.ScopeConnect}, "acc-a", "keyed")
	for _, c := range []struct {
		account, connector string
		status             int
	}{{"acc-a", "keyed", 201}, {"acc-b", "keyed", 403}, {"", "keyed", 403}, {"acc-a", "other", 403}} {
		status, body := e.request("POST", "/v1/connect-sessions", map[string]any{"connector": c.connector, "account": c.account}, connectA)
		if status != c.status || (status == 403 && errorCode(body) != "key_limit") {
			t.Errorf("connect session %s/%s with a key of acc-a/keyed: %d %s, want %d", c.account, c.connector, status, body, c.status)
		}
	}
	e.assertNoCanaries()
}

// TestRevokedKeyIsRefusedOnEveryInstance: revoked through one server, the
// key is refused by that server on the very next request, and by another
// sharing the store within RecheckAfter (the time it takes a checked key as
// good, keyCache).
func TestRevokedKeyIsRefusedOnEveryInstance(t *testing.T) {
	const recheck = 300 * time.Millisecond
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			c := testCipher(t)
			a, b := sharedStores(t, kind, c)
			api := newAPIServer(t, canaryAPIKey)
			conns := map[string]string{"keyed": keyedConnector(api.URL)}
			e1 := newEnv(t, envOptions{connectors: conns, store: a, cipher: c, recheckAfter: recheck})
			e2 := newEnv(t, envOptions{connectors: conns, store: b, cipher: c, recheckAfter: recheck})
			conn := e1.createKeyed(canaryAPIKey, "")
			key, id := e1.makeKey("soon revoked", []string{server.ScopeProxy}, "", "")
			for _, e := range []*env{e1, e2} {
				if status, body := e.request("GET", "/v1/proxy/"+conn+"/me", nil, key); status != 200 {
					t.Fatalf("before revoking: %d %s", status, body)
				}
			}
			revoked := time.Now()
			if status, body := e1.api("DELETE", "/v1/api-keys/"+id, nil); status != 200 || !strings.Contains(string(body), `"revokedAt"`) {
				t.Fatalf("revoke: %d %s", status, body)
			}
			if status, body := e1.request("GET", "/v1/proxy/"+conn+"/me", nil, key); status != http.StatusUnauthorized {
				t.Errorf("after revoking, on the revoking server: %d %s, want 401", status, body)
			}
			for {
				sent := time.Now()
				status, body := e2.request("GET", "/v1/proxy/"+conn+"/me", nil, key)
				if status == http.StatusUnauthorized {
					break
				}
				if status != 200 || sent.Sub(revoked) > recheck {
					t.Fatalf("after revoking, on another server, a request sent %v later: %d %s, want 401 after %v", sent.Sub(revoked), status, body, recheck)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if status, _ := e2.api("DELETE", "/v1/api-keys/"+id, nil); status != 200 {
				t.Errorf("revoking twice: %d", status)
			}
		})
	}
}

// TestAPIKeysAreHashedAtRest: the SQLite files hold the key's SHA-256,
// never the key, and the admin API never shows either after creation.
func TestAPIKeysAreHashedAtRest(t *testing.T) {
	dir := t.TempDir()
	c := testCipher(t)
	st, err := store.OpenSQLite(filepath.Join(dir, "keys.db"), c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnv(t, envOptions{store: st, cipher: c})
	key, id := e.makeKey("at rest", []string{server.ScopeProxy}, "", "")
	if status, _ := e.request("GET", "/v1/connectors", nil, key); status != http.StatusForbidden {
		t.Fatalf("the key does not work: %d", status)
	}
	secret := key[strings.LastIndex(key, "_")+1:]
	sum := sha256.Sum256([]byte(key))
	rec, err := st.GetAPIKey(context.Background(), id)
	if err != nil || rec.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("stored hash %q, %v; want the key's SHA-256", rec.Hash, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keys.db*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the key", filepath.Base(f))
		}
	}
	_, list := e.api("GET", "/v1/api-keys", nil)
	_, revoked := e.api("DELETE", "/v1/api-keys/"+id, nil)
	_, refused := e.request("GET", "/v1/connectors", nil, key)
	for name, text := range map[string]string{"list": string(list), "revoke": string(revoked), "refusal": string(refused), "logs": e.logs.String()} {
		if strings.Contains(text, secret) || strings.Contains(text, rec.Hash) {
			t.Errorf("the %s shows the key or its hash: %.300s", name, text)
		}
	}
	if !strings.Contains(string(list), id) {
		t.Errorf("the list does not show key %s: %s", id, list)
	}
}

// TestLegacyKeyIsStillAdmin: CONNSPEC_API_KEY manages keys and uses every
// route, and a key that merely looks like a stored one is refused.
func TestLegacyKeyIsStillAdmin(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	conn := e.createKeyed(canaryAPIKey, "acc-1")
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/v1/proxy/" + conn + "/me", nil, 200},
		{"POST", "/v1/connect-sessions", map[string]any{"connector": "keyed", "account": "acc-9"}, 201},
		{"POST", "/v1/api-keys", map[string]any{"name": "n", "scopes": []string{"admin"}}, 201},
		{"GET", "/v1/api-keys", nil, 200},
	} {
		if status, body := e.api(c.method, c.path, c.body); status != c.status {
			t.Errorf("%s %s with CONNSPEC_API_KEY: %d %s", c.method, c.path, status, body)
		}
	}
	key, _ := e.makeKey("real", []string{server.ScopeAdmin}, "", "")
	forged := key[:len(key)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(key, "a")]
	for _, k := range []string{forged, server.KeyPrefix + "nothex_x", server.KeyPrefix} {
		if status, _ := e.request("GET", "/v1/api-keys", nil, k); status != http.StatusUnauthorized {
			t.Errorf("a forged key: %d, want 401", status)
		}
	}
	if status, _ := e.request("GET", "/v1/api-keys", nil, key); status != 200 {
		t.Errorf("a stored admin key: %d", status)
	}
}

// TestKeyUseIsRecordedCoarsely: lastUsedAt is set by the first use and not
// rewritten by the next ones within a minute.
func TestKeyUseIsRecordedCoarsely(t *testing.T) {
	e := newEnv(t, envOptions{})
	key, id := e.makeKey("used", []string{server.ScopeConnect}, "", "")
	lastUsed := func() string {
		_, body := e.api("GET", "/v1/api-keys", nil)
		var out struct {
			Keys []struct{ ID, LastUsedAt string }
		}
		json.Unmarshal(body, &out)
		for _, k := range out.Keys {
			if k.ID == id {
				return k.LastUsedAt
			}
		}
		t.Fatalf("key %s not listed: %s", id, body)
		return ""
	}
	if got := lastUsed(); got != "" {
		t.Fatalf("an unused key has lastUsedAt %s", got)
	}
	e.request("GET", "/v1/connectors", nil, key)
	first := lastUsed()
	if first == "" {
		t.Fatal("the first use was not recorded")
	}
	e.request("GET", "/v1/connectors", nil, key)
	if again := lastUsed(); again != first {
		t.Errorf("lastUsedAt rewritten within a minute: %s then %s", first, again)
	}
}
