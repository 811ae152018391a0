package oauth2

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// TestResourceIndicator: RFC 8707 section 2.1 (authorization request) and
// 2.2 (code exchange, refresh): resource from getOAuthConfig goes in each,
// winning over a tokenParams/refreshParams entry.
func TestResourceIndicator(t *testing.T) {
	ep := newEndpoint(t, 200, "application/json", `{"access_token":"at","token_type":"Bearer","refresh_token":"rt"}`)
	cfg, err := ConfigFromMap(map[string]any{
		"clientId": "c", "authorizeUri": "https://as.example/authorize", "tokenUri": ep.URL,
		"resource":      "https://mcp.example.com/mcp",
		"refreshParams": map[string]any{"resource": "https://other.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := cfg.AuthorizationURL("http://127.0.0.1/cb", "st", "verifier-0123456789012345678901234567890123")
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	if got := pu.Query().Get("resource"); got != "https://mcp.example.com/mcp" {
		t.Errorf("authorize resource = %q", got)
	}
	if _, err := cfg.Exchange(context.Background(), nil, "code", "http://127.0.0.1/cb", "v"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, ep.last(t).Fields, map[string]string{"grant_type": "authorization_code", "resource": "https://mcp.example.com/mcp"})
	if _, err := cfg.Refresh(context.Background(), nil, "rt"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, ep.last(t).Fields, map[string]string{"grant_type": "refresh_token", "resource": "https://mcp.example.com/mcp"})
	if _, err := cfg.ClientCredentials(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	wantFields(t, ep.last(t).Fields, map[string]string{"resource": "https://mcp.example.com/mcp"})
}

// TestResourceIndicatorRefused: not an absolute URI, or with a fragment
// (RFC 8707 section 2), is refused naming the key.
func TestResourceIndicatorRefused(t *testing.T) {
	for _, r := range []string{"/mcp", "mcp.example.com", "https://mcp.example.com/mcp#x", "https://mcp.example.com/#", "ftp://x.example/"} {
		_, err := ConfigFromMap(map[string]any{"clientId": "c", "authorizeUri": "https://as.example/a", "tokenUri": "https://as.example/t", "resource": r})
		if err == nil || !strings.Contains(err.Error(), "resource") {
			t.Errorf("resource %q: want a refusal naming resource, got %v", r, err)
		}
	}
}
