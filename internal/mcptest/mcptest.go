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
	// Registration advertises registration_endpoint (/register, RFC 7591)
	// and token_endpoint_auth_methods_supported RegistrationAuthMethods;
	// registered clients must use their redirect URIs at /authorize (a
	// loopback IP literal's port aside, RFC 8252 section 7.3) and
	// authenticate at /token as they registered.
	Registration bool
	// RegistrationAuthMethods are the token endpoint auth methods the AS
	// offers; nil means client_secret_basic, client_secret_post and none.
	RegistrationAuthMethods []string
	// Registered are the registration requests' bodies, in order.
	Registered []map[string]any
	// TokenRequests are the token requests' forms, in order.
	TokenRequests []url.Values
	// TokenAuth are the token requests' Authorization headers, in order.
	TokenAuth []string
	// AuthorizeRequests are the authorization requests' queries.
	AuthorizeRequests []url.Values
	codes             map[string]grant
	refresh           map[string]grant
	access            map[string]grant
	n                 int
	clients           map[string]registered
}

// registered is a dynamically registered client.
type registered struct {
	secret, method string
	redirects      []string
}

type grant struct {
	clientID, redirectURI, challenge, resource, scope string
}

// NewAS starts an AS and registers t.Cleanup(Close).
func NewAS(t testing.TB) *AS {
	a := &AS{codes: map[string]grant{}, refresh: map[string]grant{}, access: map[string]grant{}, clients: map[string]registered{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", a.metadata)
	mux.HandleFunc("GET /authorize", a.authorize)
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("POST /register", a.register)
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
	if a.Registration {
		md["registration_endpoint"] = a.URL + "/register"
		md["token_endpoint_auth_methods_supported"] = a.authMethods()
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
	c, isRegistered := a.clients[clientID]
	a.mu.Unlock()
	if isRegistered {
		if !slices.ContainsFunc(c.redirects, func(r string) bool { return sameRedirect(r, redirectURI) }) {
			return fmt.Errorf("redirect_uri %q is not registered for client %s", redirectURI, clientID)
		}
		return nil
	}
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
	a.TokenAuth = append(a.TokenAuth, r.Header.Get("Authorization"))
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
		if f.Get("redirect_uri") != g.redirectURI {
			fail("invalid_grant", "redirect_uri differs from the authorization request")
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
	clientID, err := a.authenticate(r, f)
	if err != nil {
		w.Header().Set("WWW-Authenticate", "Basic")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": err.Error()})
		return
	}
	if clientID != g.clientID {
		fail("invalid_grant", "the grant was issued to another client")
		return
	}
	a.n++
	at, rt := fmt.Sprintf("mcp-at-%d", a.n), fmt.Sprintf("mcp-rt-%d", a.n)
	a.access[at] = g
	a.refresh[rt] = g
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rt, "scope": g.scope})
}

// authenticate returns the client of a token request (RFC 6749 section
// 2.3): a registered client as it registered (client_secret_basic,
// client_secret_post or none), a pre-registered or metadata document client
// as a public one (client_id in the body, no secret). a.mu is held.
func (a *AS) authenticate(r *http.Request, f url.Values) (string, error) {
	user, pass, basic := r.BasicAuth()
	if basic {
		// RFC 6749 section 2.3.1: form-encoded before base64.
		user, _ = url.QueryUnescape(user)
		pass, _ = url.QueryUnescape(pass)
	} else if r.Header.Get("Authorization") != "" {
		return "", fmt.Errorf("unsupported Authorization scheme")
	}
	clientID := f.Get("client_id")
	if basic {
		if clientID != "" && clientID != user {
			return "", fmt.Errorf("client_id differs from the authenticated client")
		}
		clientID = user
	}
	if basic && f.Get("client_secret") != "" {
		return "", fmt.Errorf("more than one client authentication method")
	}
	c, ok := a.clients[clientID]
	if !ok {
		if basic || f.Get("client_secret") != "" {
			return "", fmt.Errorf("a public client sends no secret")
		}
		return clientID, nil
	}
	switch c.method {
	case "client_secret_basic":
		if !basic || pass != c.secret {
			return "", fmt.Errorf("client_secret_basic authentication failed")
		}
	case "client_secret_post":
		if basic || f.Get("client_secret") != c.secret {
			return "", fmt.Errorf("client_secret_post authentication failed")
		}
	default:
		if basic || f.Get("client_secret") != "" {
			return "", fmt.Errorf("a public client sends no secret")
		}
	}
	return clientID, nil
}

func (a *AS) authMethods() []string {
	if a.RegistrationAuthMethods != nil {
		return a.RegistrationAuthMethods
	}
	return []string{"client_secret_basic", "client_secret_post", "none"}
}

// register is the RFC 7591 registration endpoint: redirect_uris must be
// https or loopback http URIs, the grant types authorization_code and
// refresh_token, the auth method one the AS offers (default
// client_secret_basic, section 2).
func (a *AS) register(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&m); err != nil || m == nil {
		registrationFail(w, "invalid_client_metadata", "the body is not a JSON object")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Registered = append(a.Registered, m)
	var redirects []string
	list, _ := m["redirect_uris"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		u, err := url.Parse(s)
		if err != nil || u.Fragment != "" || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) {
			registrationFail(w, "invalid_redirect_uri", fmt.Sprintf("%q is neither https nor loopback http", s))
			return
		}
		redirects = append(redirects, s)
	}
	if len(redirects) == 0 {
		registrationFail(w, "invalid_redirect_uri", "redirect_uris required")
		return
	}
	if grants, ok := m["grant_types"].([]any); ok {
		for _, g := range grants {
			if g != "authorization_code" && g != "refresh_token" {
				registrationFail(w, "invalid_client_metadata", fmt.Sprintf("grant type %v not supported", g))
				return
			}
		}
	}
	method, _ := m["token_endpoint_auth_method"].(string)
	if method == "" {
		method = "client_secret_basic"
	}
	if !slices.Contains(a.authMethods(), method) {
		registrationFail(w, "invalid_client_metadata", fmt.Sprintf("token_endpoint_auth_method %q not supported", method))
		return
	}
	a.n++
	id := fmt.Sprintf("dcr-client-%d", a.n)
	c := registered{method: method, redirects: redirects}
	answer := map[string]any{
		"client_id": id, "client_id_issued_at": time.Now().Unix(), "redirect_uris": redirects,
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": method,
	}
	if name, ok := m["client_name"].(string); ok {
		answer["client_name"] = name
	}
	if method != "none" {
		c.secret = fmt.Sprintf("dcr-secret-%d-canary", a.n)
		answer["client_secret"] = c.secret
		answer["client_secret_expires_at"] = 0
	}
	a.clients[id] = c
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(answer)
}

func registrationFail(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// sameRedirect compares redirect URIs, the port of a loopback IP literal
// aside (RFC 8252 section 7.3).
func sameRedirect(registered, got string) bool {
	if registered == got {
		return true
	}
	r, err1 := url.Parse(registered)
	g, err2 := url.Parse(got)
	if err1 != nil || err2 != nil || r.Scheme != "http" || g.Scheme != "http" {
		return false
	}
	h := r.Hostname()
	if h != "127.0.0.1" && h != "::1" || g.Hostname() != h {
		return false
	}
	return r.Path == g.Path && r.RawQuery == g.RawQuery
}

// Secret returns the secret of a registered client ("" for none).
func (a *AS) Secret(clientID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.clients[clientID].secret
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
