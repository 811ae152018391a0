// Package oauthtest is test support: it runs a real OAuth 2.0 authorization
// server (github.com/go-oauth2/oauth2/v4) in-process on an httptest.Server,
// so that tests of connspec's OAuth client code talk to a genuine
// implementation instead of a hand-written fake.
//
// The server registers exactly one client, auto-approves authorization
// requests as user "user-1", issues opaque tokens from an in-memory store and
// serves a protected resource at /api/me. It counts token requests so tests
// can assert how often the code under test fetched or refreshed tokens.
//
// Behaviour worth knowing (some of it papers over go-oauth2 defaults):
//   - Client authentication at /token accepts HTTP Basic (preferred when
//     present; the credentials are form-urldecoded per RFC 6749 §2.3.1) or
//     client_id/client_secret in the POST body, for every grant type.
//   - Error statuses follow RFC 6749 §5.2: invalid_client is 401 with a
//     WWW-Authenticate header, other token errors are 400.
//   - expires_in is whole seconds (truncated), so TTLs below one second
//     produce expires_in 0; use whole seconds.
//   - An authorization code is consumed before its PKCE verifier is checked:
//     a wrong code_verifier burns the code.
package oauthtest

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
)

// UserID is the resource owner every approved authorization is issued for.
const UserID = "user-1"

// DenyLoginHint is the login_hint value that makes /authorize deny the
// request (redirecting with error=access_denied).
const DenyLoginHint = "deny"

// Options configures a Server. The zero value is usable.
type Options struct {
	// ClientID and ClientSecret identify the single registered client.
	// Defaults: "client-1" and "secret-1".
	ClientID, ClientSecret string

	// PublicClient registers the client without a secret (a public client,
	// e.g. a CLI using PKCE). It authenticates with client_id alone, and the
	// client_credentials grant is refused with invalid_client.
	PublicClient bool

	// RedirectURIs lists the allowed redirect URIs. A redirect_uri matches
	// an entry if it is equal to it or, for http loopback URIs
	// (127.0.0.1, [::1], localhost), equal except for the port (RFC 8252
	// §7.3). When empty, any http loopback URI is accepted. The first entry
	// is used when an authorization request omits redirect_uri.
	RedirectURIs []string

	// AccessTokenTTL is the access token lifetime. Default 1h. It is
	// reported as whole seconds in expires_in.
	AccessTokenTTL time.Duration

	// RefreshTokenTTL is the refresh token lifetime. Default 24h. Note that
	// go-oauth2 also rejects an access token once its refresh token expired.
	RefreshTokenTTL time.Duration

	// RotateRefreshTokens makes every refresh_token grant issue a new
	// refresh token and revoke the presented one, so reusing it fails with
	// invalid_grant. Without it the refresh response carries no
	// refresh_token and the original one stays valid until it expires.
	// Old access tokens stay valid until they expire in both modes.
	RotateRefreshTokens bool

	// RequirePKCE makes authorization requests require an S256
	// code_challenge (others are answered with error=invalid_request) and
	// the code exchange require a code_verifier. PKCE is always enforced
	// when a challenge was sent, even without RequirePKCE.
	RequirePKCE bool

	// Scopes, if non-empty, lists the scopes the client may request; a
	// request for any other scope fails with invalid_scope. Refreshing may
	// only narrow the originally granted scope.
	Scopes []string

	// DenyAuthorization makes every authorization request be denied, as if
	// the user clicked "deny" (also available per request with
	// login_hint=deny).
	DenyAuthorization bool
}

// Server is a running in-process OAuth 2.0 authorization server.
type Server struct {
	// URL is the base URL of the server, e.g. "http://127.0.0.1:34567".
	URL string
	// AuthorizeURL is the authorization endpoint (URL + "/authorize").
	AuthorizeURL string
	// TokenURL is the token endpoint (URL + "/token").
	TokenURL string
	// ResourceURL is a protected resource (URL + "/api/me"). With a valid
	// Bearer token it answers 200 {"user":..., "client_id":..., "scope":...};
	// otherwise 401 with a WWW-Authenticate: Bearer header.
	ResourceURL string

	opts      Options
	tb        testing.TB
	ts        *httptest.Server
	srv       *server.Server
	closeOnce sync.Once

	tokenRequests atomic.Int64
	invalidGrants atomic.Int64
	mu            sync.Mutex
	grants        map[string]int64
}

// New starts a Server configured by o and registers t.Cleanup(s.Close).
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = "client-1"
	}
	if o.ClientSecret == "" && !o.PublicClient {
		o.ClientSecret = "secret-1"
	}
	if o.PublicClient {
		o.ClientSecret = ""
	}
	if o.AccessTokenTTL <= 0 {
		o.AccessTokenTTL = time.Hour
	}
	if o.RefreshTokenTTL <= 0 {
		o.RefreshTokenTTL = 24 * time.Hour
	}
	s := &Server{opts: o, tb: t, grants: make(map[string]int64)}

	m := manage.NewDefaultManager()
	m.SetAuthorizeCodeTokenCfg(&manage.Config{
		AccessTokenExp:    o.AccessTokenTTL,
		RefreshTokenExp:   o.RefreshTokenTTL,
		IsGenerateRefresh: true,
	})
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: o.AccessTokenTTL})
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{
		AccessTokenExp:     o.AccessTokenTTL,
		RefreshTokenExp:    o.RefreshTokenTTL,
		IsGenerateRefresh:  o.RotateRefreshTokens,
		IsResetRefreshTime: o.RotateRefreshTokens,
		IsRemoveRefreshing: o.RotateRefreshTokens,
	})
	m.MustTokenStorage(store.NewMemoryTokenStore())
	clients := store.NewClientStore()
	domain := "http://127.0.0.1"
	if len(o.RedirectURIs) > 0 {
		domain = o.RedirectURIs[0]
	}
	if err := clients.Set(o.ClientID, &models.Client{
		ID: o.ClientID, Secret: o.ClientSecret, Domain: domain, Public: o.PublicClient,
	}); err != nil {
		t.Fatalf("oauthtest: register client: %v", err)
	}
	m.MapClientStorage(clients)
	// go-oauth2's default check is a host suffix match, which rejects
	// loopback redirect URIs with a port.
	m.SetValidateURIHandler(func(_, redirectURI string) error {
		if !s.redirectAllowed(redirectURI) {
			return oerrors.ErrInvalidRedirectURI
		}
		return nil
	})

	cfg := server.NewConfig()
	cfg.AllowedResponseTypes = []oauth2.ResponseType{oauth2.Code}
	cfg.AllowedGrantTypes = []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.ClientCredentials, oauth2.Refreshing}
	if o.RequirePKCE {
		cfg.ForcePKCE = true
		cfg.AllowedCodeChallengeMethods = []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256}
	}
	srv := server.NewServer(cfg, m)
	srv.ClientInfoHandler = s.clientInfo
	srv.UserAuthorizationHandler = func(_ http.ResponseWriter, r *http.Request) (string, error) {
		if o.DenyAuthorization || r.FormValue("login_hint") == DenyLoginHint {
			return "", oerrors.ErrAccessDenied
		}
		return UserID, nil
	}
	if len(o.Scopes) > 0 {
		srv.ClientScopeHandler = func(tgr *oauth2.TokenGenerateRequest) (bool, error) {
			return subset(tgr.Scope, strings.Join(o.Scopes, " ")), nil
		}
	}
	srv.RefreshingScopeHandler = func(tgr *oauth2.TokenGenerateRequest, oldScope string) (bool, error) {
		return subset(tgr.Scope, oldScope), nil
	}
	srv.InternalErrorHandler = s.internalError
	srv.ResponseErrorHandler = func(re *oerrors.Response) {
		switch re.Error.Error() {
		case "invalid_client":
			re.StatusCode = http.StatusUnauthorized
			re.SetHeader("WWW-Authenticate", `Basic realm="oauthtest"`)
		case "server_error":
			re.StatusCode = http.StatusInternalServerError
		default:
			re.StatusCode = http.StatusBadRequest
		}
	}
	s.srv = srv

	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", s.handleAuthorize)
	mux.HandleFunc("/token", s.handleToken)
	mux.HandleFunc("/api/me", s.handleMe)
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL
	s.AuthorizeURL = s.URL + "/authorize"
	s.TokenURL = s.URL + "/token"
	s.ResourceURL = s.URL + "/api/me"
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down, waiting for in-flight requests. It is
// idempotent and registered with t.Cleanup by New. (go-oauth2's memory
// token store offers no way to stop its buntdb background goroutine, so one
// idle goroutine per Server outlives Close.)
func (s *Server) Close() {
	s.closeOnce.Do(s.ts.Close)
}

// Client returns the httptest server's HTTP client.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// TokenRequests reports the number of POST requests to /token.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// Grants reports the number of POST requests to /token with the given
// grant_type ("authorization_code", "refresh_token", "client_credentials"),
// whether or not they succeeded.
func (s *Server) Grants(grantType string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants[grantType]
}

// InvalidGrants reports the number of token requests answered with error
// invalid_grant (bad or reused code, wrong PKCE verifier, revoked or expired
// refresh token).
func (s *Server) InvalidGrants() int64 { return s.invalidGrants.Load() }

// Authorize performs the browser leg of the authorization code flow: it GETs
// authURL (an authorization request to this server) without following the
// redirect and returns the redirect target, whose query carries code and
// state, or error and state. It fails the test unless the answer is a 302.
func (s *Server) Authorize(t testing.TB, authURL string) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("oauthtest: authorize: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		t.Fatalf("oauthtest: authorize: status %d, want 302 (%v)", resp.StatusCode, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("oauthtest: authorize: %v", err)
	}
	return loc
}

// clientInfo authenticates the client from HTTP Basic or the form body and
// rejects unknown clients and wrong secrets for every grant type (go-oauth2
// itself skips client authentication for refresh_token).
func (s *Server) clientInfo(r *http.Request) (string, string, error) {
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: form-urlencoded before Basic encoding.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != s.opts.ClientID {
		return "", "", oerrors.ErrInvalidClient
	}
	if !s.opts.PublicClient && subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		return "", "", oerrors.ErrInvalidClient
	}
	return id, secret, nil
}

// internalError maps go-oauth2 errors that lack an OAuth error code (and
// would otherwise become server_error) to the code a client should see.
func (s *Server) internalError(err error) *oerrors.Response {
	switch err {
	case oerrors.ErrMissingCodeVerifier, oerrors.ErrInvalidRedirectURI,
		oerrors.ErrInvalidAuthorizeCode, oerrors.ErrInvalidCodeChallenge,
		oerrors.ErrMissingCodeChallenge, oerrors.ErrInvalidRefreshToken,
		oerrors.ErrExpiredRefreshToken:
		return &oerrors.Response{Error: oerrors.ErrInvalidGrant, Description: err.Error()}
	}
	s.tb.Logf("oauthtest: internal error: %v", err)
	return nil
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	// Errors about the client or redirect URI must not be redirected
	// (RFC 6749 §4.1.2.1); go-oauth2 would redirect or answer server_error.
	if r.Form.Get("client_id") != s.opts.ClientID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "unknown client_id"})
		return
	}
	redirect := r.Form.Get("redirect_uri")
	if redirect == "" && len(s.opts.RedirectURIs) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "missing redirect_uri"})
		return
	}
	if redirect != "" && !s.redirectAllowed(redirect) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "redirect_uri not allowed"})
		return
	}
	err := s.srv.HandleAuthorizeRequest(w, r)
	if err == nil {
		return
	}
	// Errors returned (rather than redirected) come from request validation,
	// e.g. a missing or non-S256 code_challenge; nothing was written yet.
	if redirect == "" {
		redirect = s.opts.RedirectURIs[0]
	}
	data, _, _ := s.srv.GetErrorData(err)
	req := &server.AuthorizeRequest{RedirectURI: redirect, State: r.Form.Get("state"), ResponseType: oauth2.Code}
	uri, uerr := s.srv.GetRedirectURI(req, data)
	if uerr != nil {
		writeJSON(w, http.StatusBadRequest, data)
		return
	}
	http.Redirect(w, r, uri, http.StatusFound)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s.tokenRequests.Add(1)
		_ = r.ParseForm()
		s.mu.Lock()
		s.grants[r.PostForm.Get("grant_type")]++
		s.mu.Unlock()
	}
	rec := &recorder{ResponseWriter: w}
	if err := s.srv.HandleTokenRequest(rec, r); err != nil {
		s.tb.Logf("oauthtest: token: %v", err)
	}
	if rec.status >= 400 && strings.Contains(rec.body.String(), `"error":"invalid_grant"`) {
		s.invalidGrants.Add(1)
	}
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	if _, ok := server.AccessTokenDefaultResolveHandler(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oauthtest"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_request"})
		return
	}
	ti, err := s.srv.ValidationBearerToken(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oauthtest", error="invalid_token", error_description="`+err.Error()+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token", "error_description": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user": ti.GetUserID(), "client_id": ti.GetClientID(), "scope": ti.GetScope(),
	})
}

// redirectAllowed reports whether uri is an acceptable redirect URI.
func (s *Server) redirectAllowed(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Fragment != "" || !u.IsAbs() {
		return false
	}
	if len(s.opts.RedirectURIs) == 0 {
		return isLoopback(u)
	}
	for _, allowed := range s.opts.RedirectURIs {
		if uri == allowed {
			return true
		}
		a, err := url.Parse(allowed)
		if err == nil && isLoopback(a) && isLoopback(u) && a.Hostname() == u.Hostname() &&
			a.Path == u.Path && a.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

func isLoopback(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// subset reports whether every space-separated scope in req is in allowed.
func subset(req, allowed string) bool {
	have := strings.Fields(allowed)
	for _, sc := range strings.Fields(req) {
		found := false
		for _, a := range have {
			if a == sc {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// recorder tees a response so handleToken can inspect the error code.
type recorder struct {
	http.ResponseWriter
	status int
	body   strings.Builder
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
