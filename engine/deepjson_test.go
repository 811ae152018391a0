package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connspec/connspec/engine/store"
)

// deepDepths are the nestings every source of outside data is tried with.
var deepDepths = []int{10_000, 100_000, 1_000_000}

func deepValue(depth int) any {
	var v any = "canary-deep"
	for range depth {
		v = map[string]any{"a": v}
	}
	return v
}

// deepJSON is an object whose "data" holds depth nested arrays.
func deepJSON(depth int) string {
	return `{"data":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
}

// Connection input, connector parameters and credentials nested too deeply
// are refused with a clear error before anything walks them.
func TestDeepConnectionValuesAreRefused(t *testing.T) {
	e := newEngine(t, nil, strings.ReplaceAll(apiKeyHeader, "{{URL}}", "https://api.example.com"))
	for _, depth := range deepDepths {
		_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_ok", "nested": deepValue(depth)}})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "nested" || !strings.Contains(err.Error(), "nested too deeply (more than 512 levels)") {
			t.Errorf("input %d deep: %v", depth, err)
		}
		_, err = e.Client(context.Background(), Connection{Connector: "c", Credentials: map[string]any{"apiKey": "sk_ok", "nested": deepValue(depth)}})
		if err == nil || !strings.Contains(err.Error(), "credentials are nested too deeply") {
			t.Errorf("credentials %d deep: %v", depth, err)
		}
		// With an ID, credentials given are stored: refused before the
		// store encodes them.
		_, err = e.Client(context.Background(), Connection{Connector: "c", ID: "deep", Credentials: map[string]any{"apiKey": "sk_ok", "nested": deepValue(depth)}})
		if err == nil || !strings.Contains(err.Error(), "credentials are nested too deeply") {
			t.Errorf("credentials %d deep to store: %v", depth, err)
		}
		_, err = e.Client(context.Background(), Connection{Connector: "c", ConnectorParameters: map[string]any{"x": deepValue(depth)}, ConnectionParameters: map[string]any{"apiKey": "sk_ok"}})
		if err == nil || !strings.Contains(err.Error(), "connector parameters are nested too deeply") {
			t.Errorf("connector parameters %d deep: %v", depth, err)
		}
	}
	self := map[string]any{"apiKey": "sk_ok"}
	self["self"] = self
	if _, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: self}); err == nil {
		t.Error("input that contains itself was accepted")
	}
	// 500 levels are fine.
	if _, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_ok", "nested": deepValue(500)}}); err != nil {
		t.Errorf("500 levels: %v", err)
	}
}

// An API answer nested too deeply is an error of the request, for the
// Client's helpers and for a JavaScript method's apiClient alike: never
// decoded, and never handed over as text a method might JSON.parse.
func TestDeepAPIResponsesAreRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var depth int
		fmt.Sscanf(r.URL.Path, "/v1/deep/%d", &depth)
		if strings.HasSuffix(r.URL.Path, "/text") {
			w.Header().Set("Content-Type", "text/plain")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Write([]byte(deepJSON(depth)))
	}))
	defer srv.Close()
	const src = apiKeyHeader + `  test:
    code: |
      export default async ({ apiClient }) => {
        const r = await apiClient.get('/deep/' + 1000000)
        return typeof r === 'string' ? JSON.parse(r) && true : true
      }
`
	e := newEngine(t, srv, src)
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_ok"}})
	for _, depth := range deepDepths {
		for _, suffix := range []string{"", "/text"} {
			_, err := cl.Get(context.Background(), fmt.Sprintf("/deep/%d%s", depth, suffix))
			if err == nil || !strings.Contains(err.Error(), "the response body is nested too deeply (more than 512 levels)") {
				t.Errorf("%d deep%s: %v", depth, suffix, err)
			}
		}
	}
	if out, err := cl.Get(context.Background(), "/deep/400"); err != nil || out.(map[string]any)["data"] == nil {
		t.Errorf("400 levels: %v %v", out, err)
	}
	err := cl.Test(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("JavaScript apiClient: %v", err)
	}
}

// Credentials read back from a store are bounded too: a row written by
// another program (or an older version) cannot crash the engine.
func TestDeepStoredCredentialsAreRefused(t *testing.T) {
	key := make([]byte, store.KeySize)
	cipher, err := store.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "c.db"), cipher)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEngine(t, nil, strings.ReplaceAll(apiKeyHeader, "{{URL}}", "https://api.example.com"), WithStore(st))
	for _, depth := range []int{1_000, 9_000} {
		id := fmt.Sprint("deep-", depth)
		if _, err := st.CompareAndSwap(context.Background(), id, 0, map[string]any{"apiKey": "sk_ok", "nested": deepValue(depth)}); err != nil {
			t.Fatal(err)
		}
		_, err := e.Client(context.Background(), Connection{Connector: "c", ID: id, ConnectionParameters: map[string]any{"apiKey": "sk_ok"}})
		if err == nil || !strings.Contains(err.Error(), "credentials are nested too deeply") {
			t.Errorf("stored credentials %d deep: %v", depth, err)
		}
	}
}
