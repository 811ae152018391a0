package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

func TestProxyRidesOnTheUnderlyingConnection(t *testing.T) {
	var refreshes atomic.Int32
	var current atomic.Value
	current.Store("t1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			refreshes.Add(1)
			current.Store("t2")
			w.Write([]byte(`{"access_token":"t2","expires_in":3600}`))
		case r.Header.Get("Authorization") != "Bearer "+current.Load().(string):
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.Write([]byte(`{"path":"` + r.URL.Path + `","quota":"` + r.Header.Get("X-Goog-User-Project") + `"}`))
		}
	}))
	defer srv.Close()
	e := New()
	load := func(name, src string) {
		src = strings.ReplaceAll(src, "{{URL}}", srv.URL)
		if _, diags := e.LoadFS(fstest.MapFS{name: {Data: []byte(src)}}, name); diags.HasErrors() {
			t.Fatal(diags.Error())
		}
	}
	load("google.yml", `key: google
name: Google
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: id, clientSecret: s, authorizeUri: "{{URL}}/auth", tokenUri: "{{URL}}/token"}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/google
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`)
	load("sheets.yml", `key: google-sheets
name: Google Sheets
auth:
  type: proxy
  proxyKey: google
  makeApiClient:
    mapping:
      baseUri: {{URL}}/sheets/v4
      headers: {X-Goog-User-Project: {$var: connectorParameters.project}}
`)
	base := &Connection{ID: "g-1", Connector: "google", Credentials: map[string]any{"access_token": "stale", "refresh_token": "r"}}
	ctx := context.Background()
	sheets, err := e.Client(ctx, Connection{Connector: "google-sheets", Base: base, ConnectorParameters: map[string]any{"project": "p-9"}})
	if err != nil {
		t.Fatal(err)
	}
	// The base connection's token is stale: the 401 refreshes it once, for
	// every user of the underlying connection.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			got, err := sheets.Get(ctx, "/spreadsheets/abc")
			if err != nil || got.(map[string]any)["path"] != "/sheets/v4/spreadsheets/abc" || got.(map[string]any)["quota"] != "p-9" {
				t.Errorf("%v %v", got, err)
			}
		})
	}
	wg.Wait()
	if refreshes.Load() != 1 {
		t.Errorf("%d refreshes of the underlying connection", refreshes.Load())
	}
	google, _ := e.Client(ctx, *base)
	if google.Credentials()["access_token"] != "t2" {
		t.Error("the refresh did not reach the underlying connection's store")
	}
}

func TestProxyCycleIsRefused(t *testing.T) {
	e := New()
	src := func(key, target string) string {
		return "key: " + key + "\nname: " + key + "\nauth:\n  type: proxy\n  proxyKey: " + target + "\n  makeApiClient:\n    mapping: {baseUri: https://x.example}\n"
	}
	if _, diags := e.LoadFS(fstest.MapFS{"a.yml": {Data: []byte(src("a", "b"))}}, "a.yml"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, diags := e.LoadFS(fstest.MapFS{"b.yml": {Data: []byte(src("b", "a"))}}, "b.yml")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "proxy cycle: b -> a -> b") {
		t.Errorf("diags: %v", diags)
	}
	if _, ok := e.Connector("b"); ok {
		t.Error("a connector closing a cycle must not be registered")
	}
}

// A proxy connector with only proxyKey (integration.app's proxy type: "uses
// the authentication of another connector") rides on the underlying
// connection's client as it is: base URI, headers and refresh.
func TestProxyWithOnlyProxyKeyUsesTheUnderlyingClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"path":"` + r.URL.Path + `","auth":"` + r.Header.Get("Authorization") + `"}`))
	}))
	defer srv.Close()
	e := New()
	for name, src := range map[string]string{
		"base.yml": `key: base
name: Base
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
`,
		"rider.yml": `key: rider
name: Rider
auth:
  type: proxy
  proxyKey: base
`,
	} {
		src = strings.ReplaceAll(src, "{{URL}}", srv.URL)
		if _, diags := e.LoadFS(fstest.MapFS{name: {Data: []byte(src)}}, name); diags.HasErrors() || len(diags) > 0 {
			t.Fatalf("%s: %s", name, diags.Error())
		}
	}
	base := &Connection{Connector: "base", ConnectionParameters: map[string]any{"token": "tok-1"}}
	rider, err := e.Client(context.Background(), Connection{Connector: "rider", Base: base})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rider.Get(context.Background(), "/me")
	if m, _ := got.(map[string]any); err != nil || m["path"] != "/v1/me" || m["auth"] != "Bearer tok-1" {
		t.Fatalf("%v %v", got, err)
	}
}
