package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A query value with no query form (an object, a list in a list) is an
// error naming the parameter, in makeApiClient's result and in apiClient
// calls from methods; before, list items of that kind were dropped
// silently and the request went out without them.
func TestQueryValuesWithoutAQueryFormAreRefused(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.RawQuery)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	e := newEngine(t, srv, `key: q
name: Q
auth:
  type: client-credentials
  makeApiClient:
    code: |
      export default function ({ connectionParameters: p }) {
        return { baseUri: '{{URL}}', query: { ids: p.ids } }
      }
  test:
    code: |
      export default async function ({ apiClient, connectionParameters: p }) {
        await apiClient.get('/search', { filter: p.filter })
        return true
      }
`)
	ctx := context.Background()
	_, err := e.Client(ctx, Connection{Connector: "q", ConnectionParameters: map[string]any{"ids": []any{"a", map[string]any{"x": "canary-q"}}}})
	if err == nil || !strings.Contains(err.Error(), "query parameter ids has an object, which has no query form") || strings.Contains(err.Error(), "canary") {
		t.Errorf("makeApiClient list with an object: %v", err)
	}
	cl := mustClient(t, e, Connection{Connector: "q", ConnectionParameters: map[string]any{"ids": []any{"a", nil, int64(2)}, "filter": []any{[]any{"x"}}}})
	if err := cl.Test(ctx); err == nil || !strings.Contains(err.Error(), "query parameter filter has a list") {
		t.Errorf("apiClient.get with a nested list: %v", err)
	}
	if len(seen) != 0 {
		t.Errorf("requests went out: %q", seen)
	}
	if _, err := cl.Get(ctx, "/x"); err != nil || len(seen) != 1 || seen[0] != "ids=a&ids=2" {
		t.Errorf("scalars and undefined items: %q %v", seen, err)
	}
}

// connectionInput (the docs' name) reaches makeApiClient, test and the
// other client methods as well as connectionParameters (issue 13).
func TestConnectionInputReachesClientMethods(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"region":"` + r.URL.Query().Get("region") + `"}`))
	}))
	defer srv.Close()
	e := newEngine(t, srv, `key: ci
name: CI
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      query: {region: {$var: connectionInput.region}}
  test:
    code: |
      export default async function ({ apiClient, connectionInput }) {
        const me = await apiClient.get('/me')
        return me.region === connectionInput.region
      }
`)
	cl := mustClient(t, e, Connection{Connector: "ci", ConnectionParameters: map[string]any{"region": "eu"}})
	if err := cl.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
}
