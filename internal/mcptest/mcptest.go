// Package mcptest runs, for tests, an MCP server behind bearer
// authentication (the official Go SDK, github.com/modelcontextprotocol/go-sdk)
// and the authorization server it names, written from the specifications
// independently of the engine: the MCP authorization specification
// (2025-11-25), RFC 9728 (protected resource metadata), RFC 8414
// (authorization server metadata), RFC 7636 (PKCE S256), RFC 8707
// (resource indicators: tokens are bound to the resource they were asked
// for) and Client ID Metadata Documents.
package mcptest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// ClientID is the pre-registered public client of the AS.
const ClientID = "mcp-client-1"

// AS is an OAuth 2.1 authorization server for MCP: RFC 8414 metadata at
// /.well-known/oauth-authorization-server, /authorize (approves at once,
// redirecting with a code) and /token (authorization_code with PKCE S256,
// refresh_token). Both require resource (RFC 8707) and bind the token to
// it: a refresh must name the same resource.
type AS struct {
	*httptest.Server
	mu sync.Mutex
	// NoS256 leaves code_challenge_methods_supported out of the metadata.
	NoS256 bool
	// CIMD advertises client_id_metadata_document_supported; a client_id
	// that is an https (or loopback http) URL is then fetched and checked.
	CIMD bool
	// TokenRequests are the token requests' forms, in order.
	TokenRequests []url.Values
	// AuthorizeRequests are the authorization requests' queries.
	AuthorizeRequests []url.Values
	codes             map[string]grant
	refresh           map[string]grant
	access            map[string]grant
	n                 int
}

type grant struct {
	clientID, redirectURI, challenge, resource, scope string
}

// NewAS starts an AS and registers t.Cleanup(Close).
func NewAS(t testing.TB) *AS {
	a := &AS{codes: map[string]grant{}, refresh: map[string]grant{}, access: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", a.metadata)
	mux.HandleFunc("GET /authorize", a.authorize)
	mux.HandleFunc("POST /token", a.token)
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func (a *AS) metadata(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	md := map[string]any{
		"issuer":                                a.URL,
		"authorization_endpoint":                a.URL + "/authorize",
		"token_endpoint":                        a.URL + "/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"none"},
	}
	if !a.NoS256 {
		md["code_challenge_methods_supported"] = []string{"S256"}
	}
	if a.CIMD {
		md["client_id_metadata_document_supported"] = true
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(md)
}

// clientRedirects returns the registered redirect URIs of clientID: any
// loopback URI for ClientID, the document's for a client ID metadata
// document URL.
func (a *AS) clientAllows(ctx context.Context, clientID, redirectURI string) error {
	if clientID == ClientID {
		if u, err := url.Parse(redirectURI); err != nil || u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" {
			return fmt.Errorf("redirect_uri %q is not a loopback URI", redirectURI)
		}
		return nil
	}
	a.mu.Lock()
	cimd := a.CIMD
	a.mu.Unlock()
	if !cimd || !(strings.HasPrefix(clientID, "https://") || strings.HasPrefix(clientID, "http://127.0.0.1")) {
		return fmt.Errorf("unknown client_id")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var doc struct {
		ClientID     string   `json:"client_id"`
		RedirectURIs []string `json:"redirect_uris"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 5<<10)).Decode(&doc); err != nil {
		return fmt.Errorf("client metadata document: %v", err)
	}
	if doc.ClientID != clientID {
		return fmt.Errorf("client metadata document names client_id %q", doc.ClientID)
	}
	if !slices.Contains(doc.RedirectURIs, redirectURI) {
		return fmt.Errorf("redirect_uri %q is not in the client metadata document", redirectURI)
	}
	return nil
}

func (a *AS) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	a.AuthorizeRequests = append(a.AuthorizeRequests, q)
	a.mu.Unlock()
	bad := func(msg string) { http.Error(w, msg, http.StatusBadRequest) }
	if q.Get("response_type") != "code" {
		bad("response_type must be code")
		return
	}
	if err := a.clientAllows(r.Context(), q.Get("client_id"), q.Get("redirect_uri")); err != nil {
		bad(err.Error())
		return
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		bad("PKCE S256 required")
		return
	}
	if !validResource(q.Get("resource")) {
		bad("resource (RFC 8707) required")
		return
	}
	a.mu.Lock()
	a.n++
	code := fmt.Sprintf("code-%d", a.n)
	a.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), resource: q.Get("resource"), scope: q.Get("scope")}
	a.mu.Unlock()
	u, _ := url.Parse(q.Get("redirect_uri"))
	cb := u.Query()
	cb.Set("code", code)
	cb.Set("state", q.Get("state"))
	cb.Set("iss", a.URL)
	u.RawQuery = cb.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func validResource(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Host != "" && u.Fragment == ""
}

func (a *AS) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f := r.PostForm
	a.mu.Lock()
	defer a.mu.Unlock()
	a.TokenRequests = append(a.TokenRequests, f)
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	var g grant
	switch f.Get("grant_type") {
	case "authorization_code":
		var ok bool
		g, ok = a.codes[f.Get("code")]
		delete(a.codes, f.Get("code"))
		if !ok {
			fail("invalid_grant", "unknown code")
			return
		}
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			fail("invalid_grant", "PKCE verification failed")
			return
		}
		if f.Get("redirect_uri") != g.redirectURI || f.Get("client_id") != g.clientID {
			fail("invalid_grant", "redirect_uri or client_id differ from the authorization request")
			return
		}
	case "refresh_token":
		var ok bool
		if g, ok = a.refresh[f.Get("refresh_token")]; !ok {
			fail("invalid_grant", "unknown refresh token")
			return
		}
	default:
		fail("unsupported_grant_type", f.Get("grant_type"))
		return
	}
	if f.Get("resource") != g.resource {
		fail("invalid_target", "resource differs from the one authorized (RFC 8707)")
		return
	}
	if r.Header.Get("Authorization") != "" || f.Get("client_secret") != "" {
		fail("invalid_client", "a public client sends no secret")
		return
	}
	a.n++
	at, rt := fmt.Sprintf("mcp-at-%d", a.n), fmt.Sprintf("mcp-rt-%d", a.n)
	a.access[at] = g
	a.refresh[rt] = g
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rt, "scope": g.scope})
}

// verifier accepts a token issued for resource (its audience).
func (a *AS) verifier(resource string) auth.TokenVerifier {
	return func(ctx context.Context, token string, req *http.Request) (*auth.TokenInfo, error) {
		a.mu.Lock()
		g, ok := a.access[token]
		a.mu.Unlock()
		if !ok || g.resource != resource {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{Scopes: strings.Fields(g.scope), Expiration: time.Now().Add(time.Hour)}, nil
	}
}

// Authorize follows an authorization URL as a user approving at once would
// and returns the callback URL the AS redirected to.
func Authorize(t testing.TB, authURL string) *url.URL {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("authorize answered %s: %s", resp.Status, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ServerOptions shape an MCP server's discovery.
type ServerOptions struct {
	// NoChallenge answers 401 without resource_metadata: the client must
	// find the well-known URI.
	NoChallenge bool
	// Resource is the resource in the metadata; "" means the server's URL.
	Resource string
	// AuthorizationServers replaces [the AS's URL]; use []string{} for none.
	AuthorizationServers []string
	// Scopes are required by the server and named in its challenge.
	Scopes []string
	// ScopesSupported are listed in the metadata.
	ScopesSupported []string
}

// Server is an MCP server (streamable HTTP, stateless, JSON responses) at
// URL (…/mcp) behind RequireBearerToken, with its protected resource
// metadata at /.well-known/oauth-protected-resource/mcp.
type Server struct {
	*httptest.Server
	// URL is the MCP endpoint.
	URL string
}

// NewServer starts a Server whose tokens come from as.
func NewServer(t testing.TB, as *AS, o ServerOptions) *Server {
	s := &Server{}
	mux := http.NewServeMux()
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Server.Close)
	s.URL = s.Server.URL + "/mcp"
	resource := o.Resource
	if resource == "" {
		resource = s.URL
	}
	servers := o.AuthorizationServers
	if servers == nil {
		servers = []string{as.URL}
	}
	metadataURL := s.Server.URL + "/.well-known/oauth-protected-resource/mcp"
	mux.Handle(metadataURL[len(s.Server.URL):], auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource: resource, AuthorizationServers: servers, ScopesSupported: o.ScopesSupported,
	}))
	srv := mcp.NewServer(&mcp.Implementation{Name: "mcptest", Version: "1.0.0"}, nil)
	srv.AddTool(&mcp.Tool{Name: "ping", Description: "answers pong", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "pong"}}}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	opts := &auth.RequireBearerTokenOptions{Scopes: o.Scopes}
	if !o.NoChallenge {
		opts.ResourceMetadataURL = metadataURL
	}
	// The server checks the token's audience against its own URL (MCP
	// "Token Audience Binding and Validation").
	mux.Handle("/mcp", auth.RequireBearerToken(as.verifier(s.URL), opts)(h))
	return s
}
