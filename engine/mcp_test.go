package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/connspec/connspec/internal/mcptest"
)

// mcpConnector: the end user types the MCP server URL (url); the engine
// discovers its authorization server (RFC 9728) with a pre-registered
// public client. extra is more getOAuthConfig mapping.
func mcpConnector(extra string) string {
	return `name: C
parametersSchema:
  type: object
  properties: {clientSecret: {type: string}}
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties: {url: {type: string, format: uri}}
      required: [url]
  getOAuthConfig:
    mapping:
      clientId: ` + mcptest.ClientID + `
      protectedResource: {$var: connectionInput.url}
` + extra + `
  makeApiClient:
    mapping:
      baseUri: {$var: connectionInput.url}
      headers:
        Accept: "application/json, text/event-stream"
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`
}

func mcpConn(url string) Connection {
	return Connection{Connector: "c", ConnectionParameters: map[string]any{"url": url}}
}

// mcpAuthorize runs the authorization code flow against the mcptest AS.
func mcpAuthorize(t *testing.T, e *Engine, conn Connection) (map[string]any, error) {
	t.Helper()
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		return nil, err
	}
	cb := mcptest.Authorize(t, req.URL)
	return e.CompleteAuthorization(ctx, conn, cb.Query(), redirectURI, req.State, req.Verifier)
}

func toolsList(t *testing.T, e *Engine, conn Connection) map[string]any {
	t.Helper()
	out, err := mustClient(t, e, conn).Post(context.Background(), "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	m, _ := out.(map[string]any)
	return m
}

// TestMCPAuthorization401Header: MCP authorization 2025-11-25, "Protected
// Resource Metadata Discovery Requirements" (WWW-Authenticate
// resource_metadata, RFC 9728 section 5.1), "Resource Parameter
// Implementation" (RFC 8707 in the authorization and token requests),
// "Scope Selection Strategy" (the challenge's scope): the token the AS
// binds to the server's URL opens tools/list.
func TestMCPAuthorization401Header(t *testing.T) {
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{Scopes: []string{"mcp:tools"}, ScopesSupported: []string{"other"}})
	e := newEngine(t, nil, mcpConnector(""))
	conn := mcpConn(srv.URL)
	creds, err := mcpAuthorize(t, e, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := as.AuthorizeRequests[0]; got.Get("resource") != srv.URL || got.Get("scope") != "mcp:tools" {
		t.Errorf("authorization request resource %q scope %q, want %q and the challenge's mcp:tools", got.Get("resource"), got.Get("scope"), srv.URL)
	}
	if got := as.TokenRequests[0].Get("resource"); got != srv.URL {
		t.Errorf("code exchange resource = %q", got)
	}
	if creds[ResourceCredentialsKey] != srv.URL {
		t.Errorf("credentials bound to %v", creds[ResourceCredentialsKey])
	}
	conn.Credentials = creds
	res := toolsList(t, e, conn)
	if !strings.Contains(fmt.Sprint(res["result"]), "ping") {
		t.Errorf("tools/list answered %v", res)
	}
}

// TestMCPAuthorizationWellKnownFallback: no resource_metadata in the 401:
// the well-known URI with the path inserted (RFC 9728 section 3.1);
// scopes_supported are asked for when the challenge names none.
func TestMCPAuthorizationWellKnownFallback(t *testing.T) {
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{NoChallenge: true, ScopesSupported: []string{"mcp:read"}})
	e := newEngine(t, nil, mcpConnector(""))
	conn := mcpConn(srv.URL)
	creds, err := mcpAuthorize(t, e, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := as.AuthorizeRequests[0].Get("scope"); got != "mcp:read" {
		t.Errorf("scope %q, want scopes_supported", got)
	}
	conn.Credentials = creds
	toolsList(t, e, conn)
}

// TestMCPRefreshKeepsResource: the refresh request names the same resource
// (RFC 8707 section 2.2; the AS refuses another), and the binding stays.
func TestMCPRefreshKeepsResource(t *testing.T) {
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	e := newEngine(t, nil, mcpConnector(""))
	conn := mcpConn(srv.URL)
	creds, err := mcpAuthorize(t, e, conn)
	if err != nil {
		t.Fatal(err)
	}
	creds["expires_at"] = formatExpiresAt(time.Now().Add(-time.Minute))
	conn.Credentials = creds
	cl := mustClient(t, e, conn)
	if _, err := cl.Post(context.Background(), "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}); err != nil {
		t.Fatal(err)
	}
	last := as.TokenRequests[len(as.TokenRequests)-1]
	if last.Get("grant_type") != "refresh_token" || last.Get("resource") != srv.URL {
		t.Errorf("last token request %v, want a refresh naming %s", last, srv.URL)
	}
	if cl.Credentials()[ResourceCredentialsKey] != srv.URL {
		t.Errorf("refreshed credentials bound to %v", cl.Credentials()[ResourceCredentialsKey])
	}
}

// TestMCPDiscoveryRefusals: each is refused naming the reason.
func TestMCPDiscoveryRefusals(t *testing.T) {
	as := mcptest.NewAS(t)
	for _, tc := range []struct {
		name string
		opts mcptest.ServerOptions
		as   func(*mcptest.AS)
		want string
	}{
		{"resource mismatch", mcptest.ServerOptions{Resource: "https://other.example/mcp"}, nil, "RFC 9728 section 3.3"},
		{"resource mismatch well-known", mcptest.ServerOptions{NoChallenge: true, Resource: "https://other.example/mcp"}, nil, "RFC 9728 section 3.3"},
		{"no authorization servers", mcptest.ServerOptions{AuthorizationServers: []string{}}, nil, "no authorization_servers"},
		{"AS without S256", mcptest.ServerOptions{}, func(a *mcptest.AS) { a.NoS256 = true }, "code_challenge_methods_supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := as
			if tc.as != nil {
				a = mcptest.NewAS(t)
				tc.as(a)
			}
			srv := mcptest.NewServer(t, a, tc.opts)
			e := newEngine(t, nil, mcpConnector(""))
			_, err := e.AuthorizationURL(context.Background(), mcpConn(srv.URL), redirectURI)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a refusal with %q, got %v", tc.want, err)
			}
		})
	}
}

// TestMCPSecretToUserChosenServerRefused: a configured client secret must
// not go to the authorization server a user-chosen resource names: refused
// at validate time when literal, when connecting otherwise; the secret is
// never quoted.
func TestMCPSecretToUserChosenServerRefused(t *testing.T) {
	_, diags := New().LoadFS(fstest.MapFS{"c.yml": {Data: []byte(mcpConnector("      clientSecret: canary-SECRET-77\n"))}}, "c.yml")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "clientSecret beside a protectedResource") || strings.Contains(diags.Error(), "canary-SECRET-77") {
		t.Errorf("literal secret: want a validate-time error naming clientSecret, got %v", diags)
	}
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	e := newEngine(t, nil, mcpConnector("      clientSecret: {$var: connectorParameters.clientSecret}\n"))
	conn := mcpConn(srv.URL)
	conn.ConnectorParameters = map[string]any{"clientSecret": "canary-SECRET-77"}
	_, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
	if err == nil || !strings.Contains(err.Error(), "clientSecret") || !strings.Contains(err.Error(), "end user's choice") {
		t.Fatalf("want a refusal naming clientSecret, got %v", err)
	}
	if strings.Contains(err.Error(), "canary-SECRET-77") {
		t.Errorf("secret in error: %v", err)
	}
	if len(as.TokenRequests)+len(as.AuthorizeRequests) != 0 {
		t.Errorf("the AS was contacted")
	}
}

// TestMCPPrivateNetworksRefused: WithoutPrivateNetworks refuses a loopback
// resource, and a public name resolving to a private address, before any
// request.
func TestMCPPrivateNetworksRefused(t *testing.T) {
	hits := 0
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer probe.Close()
	e := newEngine(t, nil, mcpConnector(""), WithoutPrivateNetworks())
	_, err := e.AuthorizationURL(context.Background(), mcpConn(probe.URL+"/mcp"), redirectURI)
	if err == nil || !strings.Contains(err.Error(), "private") {
		t.Fatalf("loopback resource: want a refusal, got %v", err)
	}
	e.mcp.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}
	_, err = e.AuthorizationURL(context.Background(), mcpConn("https://mcp.example.com/mcp"), redirectURI)
	if err == nil || !strings.Contains(err.Error(), "10.1.2.3") {
		t.Fatalf("private address: want a refusal, got %v", err)
	}
	if hits != 0 {
		t.Errorf("the refused resource was requested %d times", hits)
	}
}

// TestMCPClientIDMetadataDocument: no clientId configured; the AS supports
// client ID metadata documents: the document URL is the client_id, and the
// AS fetches the document and checks the redirect URI against it.
func TestMCPClientIDMetadataDocument(t *testing.T) {
	var docURL string
	docSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := ClientIDMetadataDocument(docURL, ClientMetadata{ClientName: "connspec test", RedirectURIs: []string{redirectURI}})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	defer docSrv.Close()
	docURL = docSrv.URL + "/oauth/client.json"
	as := mcptest.NewAS(t)
	as.CIMD = true
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	src := strings.Replace(mcpConnector(""), "      clientId: "+mcptest.ClientID+"\n", "", 1)
	e := newEngine(t, nil, src, WithClientIDMetadataDocument(docURL))
	conn := mcpConn(srv.URL)
	creds, err := mcpAuthorize(t, e, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := as.TokenRequests[0].Get("client_id"); got != docURL {
		t.Errorf("client_id %q, want the document URL", got)
	}
	conn.Credentials = creds
	toolsList(t, e, conn)

	// Without the engine option: no client ID, said so.
	e2 := newEngine(t, nil, src)
	if _, err := e2.AuthorizationURL(context.Background(), conn, redirectURI); err == nil || !strings.Contains(err.Error(), "clientId") {
		t.Errorf("no client: want an error naming clientId, got %v", err)
	}
}

// TestMCPTokenOnlyToResourceOrigin: the bound credentials open the
// resource's origin only: a baseUri elsewhere that input chose is refused.
func TestMCPTokenOnlyToResourceOrigin(t *testing.T) {
	got := resourceBoundInput(map[string]any{"baseUri": "https://evil.example/mcp"},
		map[string]any{ResourceCredentialsKey: "https://mcp.example.com/mcp"}, []inputValue{{"url", "https://evil.example/mcp"}})
	if got == nil {
		t.Error("another origin than the bound resource was exempted from the host rule")
	}
	var he *HostError
	p := &hostPolicy{}
	if _, err := p.checkURL("baseUri", "https://evil.example/mcp", got, nil); !errors.As(err, &he) {
		t.Errorf("want a host error, got %v", err)
	}
}

// TestBearerChallenge: RFC 9110 section 11.6.1 auth-params of the Bearer
// challenge, beside other schemes, quoted strings with commas and escapes.
func TestBearerChallenge(t *testing.T) {
	for _, tc := range []struct {
		h         string
		md, scope string
		ok        bool
	}{
		{`Bearer resource_metadata="https://a.example/.well-known/oauth-protected-resource", scope="a b"`, "https://a.example/.well-known/oauth-protected-resource", "a b", true},
		{`Basic realm="x, y", Bearer scope="s,t", resource_metadata="https://m.example/x"`, "https://m.example/x", "s,t", true},
		{`Bearer error="invalid_token", error_description="say \"hi\"", resource_metadata=https://m.example/y`, "https://m.example/y", "", true},
		{`Bearer resource_metadata="https://one", DPoP resource_metadata="https://two"`, "https://one", "", true},
		{`DPoP resource_metadata="https://two"`, "", "", false},
		{`Basic abc==`, "", "", false},
		{`Bearer`, "", "", true},
		{`Bearer resource_metadata="unterminated`, "unterminated", "", true},
	} {
		p, ok := bearerChallenge(tc.h)
		if ok != tc.ok || p["resource_metadata"] != tc.md || p["scope"] != tc.scope {
			t.Errorf("%s: got %v %v", tc.h, p, ok)
		}
	}
}

// TestMCPAuthorWrittenResourceKeepsHostRule: a protectedResource the
// author writes may take a secret, so the authorization server it names
// must be on its host or one the connector allows.
func TestMCPAuthorWrittenResourceKeepsHostRule(t *testing.T) {
	as := mcptest.NewAS(t)
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	src := strings.NewReplacer("{$var: connectionInput.url}", srv.URL, "      clientId: "+mcptest.ClientID+"\n",
		"      clientId: "+mcptest.ClientID+"\n      clientSecret: {$var: connectorParameters.clientSecret}\n").Replace(mcpConnector(""))
	e := newEngine(t, nil, src)
	conn := mcpConn("https://unused.example/mcp")
	conn.ConnectorParameters = map[string]any{"clientSecret": "canary-SECRET-78"}
	_, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
	var he *HostError
	if !errors.As(err, &he) || strings.Contains(err.Error(), "canary-SECRET-78") {
		t.Fatalf("want a host error for the authorization server, got %v", err)
	}
	if len(as.AuthorizeRequests)+len(as.TokenRequests) != 0 {
		t.Error("the AS was contacted")
	}
}

func FuzzBearerChallenge(f *testing.F) {
	f.Add(`Basic realm="x, y", Bearer scope="s,t", resource_metadata="https://m.example/x"`)
	f.Add(`Bearer a="\`)
	f.Fuzz(func(t *testing.T, h string) {
		bearerChallenge(h) // terminates, never panics
	})
}
