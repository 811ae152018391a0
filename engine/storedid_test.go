package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A connection known by its ID alone uses its stored credentials, for an
// API-key connector too: the form's required apiKey is not asked again.
// Without stored credentials the input is still checked.
func TestStoredConnectionByIDAlone(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "k-stored" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {apiKey: {type: string}}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: "{{URL}}"
      headers: {X-Api-Key: {$var: credentials.apiKey}}
`)
	ctx := context.Background()
	mustClient(t, e, Connection{ID: "conn-1", ConnectionParameters: map[string]any{"apiKey": "k-stored"}})

	cl, err := e.Client(ctx, Connection{Connector: "c", ID: "conn-1"})
	if err != nil {
		t.Fatalf("by ID alone: %v", err)
	}
	if out, err := cl.Get(ctx, "/me"); err != nil || out.(map[string]any)["ok"] != true {
		t.Fatalf("request: %v, %v", out, err)
	}
	if _, err := e.Client(ctx, Connection{Connector: "c", ID: "conn-unknown"}); err == nil {
		t.Fatal("an unknown ID without input was accepted")
	}
}
