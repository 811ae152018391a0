package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/connspec/connspec/spec"
)

// This file is the "one file plus tests" promise: a new auth type, declared
// in YAML, validated, run, renewed through the shared coordination and
// applied to requests, with no edit to the engine's core. The same
// registration an embedder (or a kind's own file) makes.

const (
	staticHeaderType = "static-header"
	staticHeader     = "X-Static-Key"
	// specOnlyType has a spec method table and no engine behaviour.
	specOnlyType = "spec-only-toy"
)

// staticRenewals counts Renew calls of the static-header kind, by key.
var staticRenewals sync.Map

func init() {
	methods := map[string]spec.MethodRule{
		spec.MethodMakeAPIClient: {Required: true, Implementations: []string{spec.ImplMapping, spec.ImplExpr, spec.ImplJavaScript}, Inputs: []string{"credentials", "connectorParameters", "connectionParameters", "connectionInput"}, Inherited: true},
	}
	spec.RegisterAuthType(spec.AuthType{Name: staticHeaderType, Title: "A key sent in X-Static-Key, rotated on refusal", Methods: methods})
	spec.RegisterAuthType(spec.AuthType{Name: specOnlyType, Title: "A type the engine cannot run", Methods: methods})
	RegisterKind(staticHeaderType, KindFunc(func(context.Context, *Client) (Session, error) { return staticHeaderSession{}, nil }))
}

// staticHeaderSession sends key/generation in X-Static-Key; a renewal
// moves to the next generation.
type staticHeaderSession struct{ BaseSession }

func (staticHeaderSession) Start(_ context.Context, cl *Client) (map[string]any, bool, error) {
	key, _ := cl.conn.ConnectionParameters["key"].(string)
	if key == "" {
		return nil, false, errors.New("static-header: the connection input has no key")
	}
	return map[string]any{"key": key, "generation": int64(1)}, true, nil
}

func (staticHeaderSession) CanRenew(creds map[string]any) bool { return creds["key"] != nil }

func (staticHeaderSession) Renew(_ context.Context, _ *Client, cur *clientState) (map[string]any, error) {
	key, _ := cur.credentials["key"].(string)
	n, _ := staticRenewals.LoadOrStore(key, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	// A store gives numbers back as it decodes JSON.
	gen, err := strconv.ParseInt(fmt.Sprint(cur.credentials["generation"]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("static-header: generation: %w", err)
	}
	return map[string]any{"key": key, "generation": gen + 1}, nil
}

func (staticHeaderSession) Apply(req *http.Request, _ *Client, st *clientState) error {
	v := fmt.Sprint(st.credentials["key"])
	if gen, ok := st.credentials["generation"]; ok {
		v += fmt.Sprintf("/%v", gen)
	}
	req.Header.Set(staticHeader, v)
	return nil
}

func toyConnector(typ string) string {
	return `name: Toy
key: c
auth:
  type: ` + typ + `
  ui:
    schema:
      type: object
      properties: {key: {type: string}}
      required: [key]
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
`
}

// TestToyKindEndToEnd: a kind registered from this file loads, connects,
// applies its header, and on the API's refusal is renewed exactly once for
// 20 concurrent requests across two engines sharing one store.
func TestToyKindEndToEnd(t *testing.T) {
	const key = "toy-canary-e2e-7f3a"
	staticRenewals.Delete(key) // -count > 1
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get(staticHeader) {
		case key + "/2":
			w.Write([]byte(`{"ok":true}`))
		default:
			refused.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	stores := faultSQLiteStores(t, 2)
	conn := Connection{Connector: "c", ID: "toy-1", ConnectionParameters: map[string]any{"key": key}}
	var clients []*Client
	for _, s := range stores {
		clients = append(clients, mustClient(t, newEngine(t, srv, toyConnector(staticHeaderType), WithStore(s)), conn))
	}
	getConcurrently(t, clients, 20, "/me", "map[ok:true]")
	n, _ := staticRenewals.Load(key)
	if got := n.(*atomic.Int64).Load(); got != 1 {
		t.Errorf("%d renewals for 20 concurrent refused requests on two engines, want 1", got)
	}
	rec, err := stores[0].Get(context.Background(), "toy-1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.Credentials["generation"]) != "2" {
		t.Errorf("the store holds %v, want generation 2", rec.Credentials)
	}
	if got := clients[0].Redact("sent " + key); strings.Contains(got, key) {
		t.Errorf("the toy kind's key is not redacted: %q", got)
	}
}

// TestToyKindNoRenewalWithoutNeed: the kind's credentials are applied as
// they are while the API accepts them.
func TestToyKindNoRenewalWithoutNeed(t *testing.T) {
	const key = "toy-canary-plain-91c2"
	staticRenewals.Delete(key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"sent":"` + r.Header.Get(staticHeader) + `"}`))
	}))
	defer srv.Close()
	cl := mustClient(t, newEngine(t, srv, toyConnector(staticHeaderType)), Connection{ConnectionParameters: map[string]any{"key": key}})
	for range 3 {
		if got := get(t, cl, "/x")["sent"]; got != key+"/1" {
			t.Errorf("server saw %v, want %s/1", got, key)
		}
	}
	if n, ok := staticRenewals.Load(key); ok && n.(*atomic.Int64).Load() != 0 {
		t.Errorf("renewed %d times without a refusal", n.(*atomic.Int64).Load())
	}
}

// TestTypeWithoutKindIsRefusedAtCompile: a type the spec knows and the
// engine cannot run is an error naming it when the connector is loaded,
// not a connection that silently behaves like another type.
func TestTypeWithoutKindIsRefusedAtCompile(t *testing.T) {
	e := New()
	src := strings.ReplaceAll(toyConnector(specOnlyType), "{{URL}}", "https://api.example.com")
	_, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `auth type "`+specOnlyType+`" has no engine implementation`) {
		t.Fatalf("want an error naming the type, got %v", diags)
	}
}

// TestAuthorizationFlowIsTheKinds: the authorization flow is offered by the
// kinds that have one, and refused by name for the others (the toy kind
// included) instead of running another type's flow.
func TestAuthorizationFlowIsTheKinds(t *testing.T) {
	for typ, want := range map[string]bool{"oauth2": true, "oauth1": true, "client-credentials": false, "proxy": false, "integration-app-token": false, staticHeaderType: false, "no-such-type": false} {
		if got := HasAuthorizationFlow(&spec.Auth{Type: typ}); got != want {
			t.Errorf("HasAuthorizationFlow(%q) = %v, want %v", typ, got, want)
		}
	}
	e := newEngine(t, nil, strings.ReplaceAll(toyConnector(staticHeaderType), "{{URL}}", "https://api.example.com"))
	_, err := e.AuthorizationURL(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"key": "k"}}, "https://app.example.com/cb")
	if err == nil || !strings.Contains(err.Error(), staticHeaderType+", which has no authorization flow") {
		t.Errorf("AuthorizationURL of a kind without a flow: %v", err)
	}
}

// TestResolverIsALayerOverAnyKind: an auth resolver stands in for how the
// toy kind obtains and renews credentials (asked again, forced, after a
// refusal; the kind's Renew never runs), while the kind still applies them.
func TestResolverIsALayerOverAnyKind(t *testing.T) {
	const first, second = "toy-canary-resolved-1", "toy-canary-resolved-2"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(staticHeader) != second {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	e := newEngine(t, srv, toyConnector(staticHeaderType))
	var calls, forced atomic.Int64
	e.DefineAuthResolver("c", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
		calls.Add(1)
		if run.ForceRefresh {
			forced.Add(1)
			return &AuthResult{Type: "apiKey", Token: second}, nil
		}
		return &AuthResult{Type: "apiKey", Token: first}, nil
	})
	cl := mustClient(t, e, Connection{Account: &Account{ID: "a-1"}})
	if got := get(t, cl, "/x"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	if calls.Load() != 2 || forced.Load() != 1 {
		t.Errorf("resolver called %d times (%d forced), want 2 (1 forced)", calls.Load(), forced.Load())
	}
	for _, k := range []string{first, second} {
		if n, ok := staticRenewals.Load(k); ok && n.(*atomic.Int64).Load() != 0 {
			t.Errorf("the kind's Renew ran for resolved credentials")
		}
	}
}
