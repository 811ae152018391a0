package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/connspec/connspec/engine/store"
)

// rpcLoginConnector logs in with a JSON-RPC call that answers a refusal
// with HTTP 200 and an error member (Zabbix's user.login).
const rpcLoginConnector = `name: R
key: c
auth:
  type: session-login
  ui:
    schema:
      type: object
      properties:
        password: {type: string, format: password}
  getSessionLoginConfig:
    mapping:
      steps:
        - name: user.login
          url: {{URL}}/rpc
          json: {method: user.login, params: {password: {$var: connectionInput.password}}}
          refusedWhen: {{REFUSED}}
          extract:
            token: result
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}
`

// TestSessionLoginRefusedWhen: a login answered 200 with the declared
// refusal member (an object, a string, nested) makes the connection need
// new credentials (needs_reauth, no second login) and names the member;
// the member null or absent is a login; a refusedWhen that is not a path
// is refused at connect time.
func TestSessionLoginRefusedWhen(t *testing.T) {
	const pwd = "canary-rpc-password-71"
	for name, c := range map[string]struct {
		path, answer string
		refused      bool
	}{
		"zabbix error":    {"error", `{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params.","data":"Incorrect user name or password or account is temporarily blocked."},"id":1}`, true},
		"nested string":   {"status.failure", `{"status":{"failure":"bad password ` + pwd + `"}}`, true},
		"array element":   {"errors.0", `{"errors":["denied"],"result":"tok"}`, true},
		"error null":      {"error", `{"jsonrpc":"2.0","result":"tok-1","error":null,"id":1}`, false},
		"error absent":    {"error", `{"jsonrpc":"2.0","result":"tok-1","id":1}`, false},
		"empty errors":    {"errors.0", `{"errors":[],"result":"tok-1"}`, false},
		"not json answer": {"error", `tok`, false},
	} {
		t.Run(name, func(t *testing.T) {
			var logins atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/rpc" {
					logins.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(c.answer))
					return
				}
				w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			stores := faultSQLiteStores(t, 1)
			src := strings.NewReplacer("{{URL}}", srv.URL, "{{REFUSED}}", c.path).Replace(rpcLoginConnector)
			cl := mustClient(t, newEngine(t, srv, src, WithStore(stores[0])), Connection{ID: "rpc-1", ConnectionParameters: map[string]any{"password": pwd}})
			for range 3 {
				_, err := cl.Get(context.Background(), "/x")
				if err != nil && strings.Contains(err.Error(), pwd) {
					t.Errorf("the error shows the password: %v", err)
				}
				var ce *ConnectionError
				defunct := errors.As(err, &ce) && ce.Key == KeyConnectionIsDefunct
				switch {
				case c.refused && (!defunct || !strings.Contains(err.Error(), "refused (the answer has "+c.path+")")):
					t.Fatalf("want a defunct connection naming %s, got %v", c.path, err)
				case !c.refused && defunct:
					t.Fatalf("a login that was not refused made the connection defunct: %v", err)
				}
			}
			if !c.refused {
				return
			}
			if n := logins.Load(); n != 1 {
				t.Errorf("%d logins for 3 calls, want 1", n)
			}
			rec, err := stores[0].Get(context.Background(), "rpc-1")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if err == nil && rec.State.Status != store.StatusNeedsReauth {
				t.Errorf("store state %q, want needs_reauth", rec.State.Status)
			}
		})
	}
	for _, bad := range []string{`""`, `"."`, `{a: b}`} {
		t.Run("refusedWhen "+bad, func(t *testing.T) {
			src := strings.NewReplacer("{{URL}}", "https://rpc.example.com", "{{REFUSED}}", bad).Replace(rpcLoginConnector)
			e := New()
			if _, diags := e.LoadFS(fsOf(src), "c.yml"); diags.HasErrors() {
				if !strings.Contains(diags.Error(), "refusedWhen") {
					t.Errorf("load: %v, want an error naming refusedWhen", diags)
				}
				return
			}
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"password": pwd}})
			if err == nil || !strings.Contains(err.Error(), "refusedWhen") {
				t.Errorf("got %v, want an error naming refusedWhen", err)
			}
		})
	}
}
