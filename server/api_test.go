package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

func TestAdminAPIRefusesRequestsWithoutTheKey(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	for _, path := range []string{"/v1/connectors", "/v1/connections", "/v1/proxy/conn_x/me"} {
		for _, key := range []string{"", "wrong-key", testAdminKey + "x"} {
			status, body := e.request("GET", path, nil, key)
			if status != http.StatusUnauthorized {
				t.Errorf("GET %s with key %q: %d %s, want 401", path, key, status, body)
			}
		}
	}
	if status, _ := e.request("GET", "/healthz", nil, ""); status != http.StatusOK {
		t.Errorf("healthz needs no key, got %d", status)
	}
}

func TestCheckAddrNeedsAKeyBeyondLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "localhost:80": true, "[::1]:9": true, ":8080": false, "0.0.0.0:8080": false, "10.1.2.3:80": false} {
		if err := server.CheckAddr(addr, ""); (err == nil) != ok {
			t.Errorf("CheckAddr(%q, no key) = %v", addr, err)
		}
		if err := server.CheckAddr(addr, "k"); err != nil {
			t.Errorf("CheckAddr(%q, key) = %v", addr, err)
		}
	}
}

func TestConnectorsAreListedWithTheirUI(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	status, body := e.api("GET", "/v1/connectors", nil)
	if status != 200 || !strings.Contains(string(body), `"key": "keyed"`) {
		t.Fatalf("list: %d %s", status, body)
	}
	status, body = e.api("GET", "/v1/connectors/keyed", nil)
	var c struct {
		Key, AuthType string
		UI            struct{ Schema map[string]any }
	}
	json.Unmarshal(body, &c)
	if status != 200 || c.AuthType != "client-credentials" || c.UI.Schema["properties"] == nil {
		t.Fatalf("get: %d %s", status, body)
	}
	if status, _ := e.api("GET", "/v1/connectors/nope", nil); status != 404 {
		t.Errorf("unknown connector: %d", status)
	}
}

func TestConnectionLifecycle(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	var texts []string

	// Wrong input: named field, value not repeated.
	status, body := e.api("POST", "/v1/connections", map[string]any{"account": "acc-1", "connector": "keyed", "input": map[string]any{"apiKey": 42, "region": canaryAPIKey}})
	texts = append(texts, string(body))
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "invalid_input") {
		t.Fatalf("bad input: %d %s", status, body)
	}
	// A key the API refuses: the test fails and nothing is kept.
	status, body = e.api("POST", "/v1/connections", map[string]any{"connector": "keyed", "account": "acc-1", "input": map[string]any{"apiKey": canaryAPIKey + "-wrong"}})
	texts = append(texts, string(body))
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "test_failed") {
		t.Fatalf("refused key: %d %s", status, body)
	}
	if infos, _ := e.Store.ListConnections(t.Context(), ""); len(infos) != 0 {
		t.Fatalf("a failed connection was kept: %+v", infos)
	}

	id := e.createKeyed(canaryAPIKey, "acc-1")
	other := e.createKeyed(canaryAPIKey, "acc-2")
	status, body = e.api("GET", "/v1/connections/"+id, nil)
	texts = append(texts, string(body))
	var got struct{ ID, Connector, Account, State string }
	json.Unmarshal(body, &got)
	if status != 200 || got.ID != id || got.Connector != "keyed" || got.Account != "acc-1" || got.State != store.StatusConnected {
		t.Fatalf("get: %d %s", status, body)
	}
	status, body = e.api("GET", "/v1/connections?account=acc-1", nil)
	texts = append(texts, string(body))
	var list []struct{ ID string }
	json.Unmarshal(body, &list)
	if status != 200 || len(list) != 1 || list[0].ID != id {
		t.Fatalf("list by account: %d %s", status, body)
	}

	// Delete runs disconnect at the provider, then forgets the connection.
	status, body = e.api("DELETE", "/v1/connections/"+id, nil)
	if status != 200 || !strings.Contains(string(body), `"disconnect": "ok"`) {
		t.Fatalf("delete: %d %s", status, body)
	}
	api.mu.Lock()
	revoked := api.revoked
	api.mu.Unlock()
	if revoked != 1 {
		t.Errorf("disconnect calls: %d, want 1", revoked)
	}
	if status, _ := e.api("GET", "/v1/connections/"+id, nil); status != 404 {
		t.Errorf("deleted connection still answers %d", status)
	}
	if _, err := e.Store.Get(t.Context(), id); err != store.ErrNotFound {
		t.Errorf("credentials of a deleted connection: %v", err)
	}
	if status, _ := e.api("GET", "/v1/connections/"+other, nil); status != 200 {
		t.Errorf("the other connection went too: %d", status)
	}
	e.assertNoCanaries(texts...)
}

func TestBadRequestsGetClearAnswers(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	cases := []struct {
		body any
		want int
		code string
	}{
		{"not an object", 400, "bad_request"},
		{map[string]any{"connector": "keyed", "extra": 1}, 400, "unknown field"},
		{map[string]any{"input": map[string]any{}}, 400, "connector is required"},
		{map[string]any{"account": "acc-1", "connector": "nope"}, 404, "unknown_connector"},
		// A connection of no account would be missing from ?account=
		// listings and could not be reconnected by its owner.
		{map[string]any{"connector": "keyed", "input": map[string]any{"apiKey": canaryAPIKey}}, 400, "account is required"},
	}
	for _, c := range cases {
		status, body := e.api("POST", "/v1/connections", c.body)
		if status != c.want || !strings.Contains(string(body), c.code) {
			t.Errorf("%v: %d %s, want %d %s", c.body, status, body, c.want, c.code)
		}
	}
}
