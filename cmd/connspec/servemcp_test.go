package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/internal/mcptest"
)

// TestServeRefusesPrivateMCPServers: serve's engine refuses an MCP server
// URL on a loopback address (SSRF) unless --allow-private-networks.
func TestServeRefusesPrivateMCPServers(t *testing.T) {
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	conn := engine.Connection{Connector: "mcp", ConnectorParameters: map[string]any{"clientId": mcptest.ClientID}, ConnectionParameters: map[string]any{"url": srv.URL}}
	for _, allow := range []bool{false, true} {
		eng := engine.New(mcpServeOptions(serveFlags{allowPrivateNetworks: allow})...)
		if _, err := loadConnectors(eng, ""); err != nil {
			t.Fatal(err)
		}
		_, err := eng.AuthorizationURL(context.Background(), conn, "https://connect.example.com/oauth/callback")
		if refused := err != nil && strings.Contains(err.Error(), "private"); refused == allow {
			t.Errorf("allow-private-networks %v: got %v", allow, err)
		}
	}
}

// TestServeClientMetadataDocument: with an https public URL serve publishes
// its client ID metadata document, whose client_id is its own URL and
// whose redirect URI is serve's callback.
func TestServeClientMetadataDocument(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := withClientMetadata(next, "https://connect.example.com")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/oauth/client-metadata.json", nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if doc["client_id"] != "https://connect.example.com/oauth/client-metadata.json" || doc["token_endpoint_auth_method"] != "none" ||
		!strings.Contains(rec.Body.String(), `"https://connect.example.com/oauth/callback"`) {
		t.Errorf("document %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	withClientMetadata(next, "http://127.0.0.1:8080").ServeHTTP(rec, httptest.NewRequest("GET", "/oauth/client-metadata.json", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("plain http public URL: the document is served (%d)", rec.Code)
	}
}
