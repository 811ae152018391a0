package oauthtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const redirectURI = "http://127.0.0.1:53123/callback"

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authURL builds an authorization request; extra is added to the query.
func authURL(s *Server, extra url.Values) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {s.opts.ClientID},
		"redirect_uri":  {redirectURI},
		"state":         {"st-1"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return s.AuthorizeURL + "?" + q.Encode()
}

// postToken POSTs form to /token, with Basic auth for client-1/secret-1 if
// basic is set, and decodes the JSON answer.
func postToken(t *testing.T, s *Server, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	if basic {
		return postTokenAs(t, s, form, "client-1", "secret-1")
	}
	return postTokenAs(t, s, form, "", "")
}

// postTokenAs is postToken with Basic credentials user:pass (none if user is "").
func postTokenAs(t *testing.T, s *Server, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("token Content-Type = %q", ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.StatusCode, body
}

// getMe calls the protected resource with token.
func getMe(t *testing.T, s *Server, token string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.ResourceURL, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

// codeFor runs /authorize with a PKCE challenge for verifier and returns the code.
func codeFor(t *testing.T, s *Server, verifier string) string {
	t.Helper()
	extra := url.Values{}
	if verifier != "" {
		extra.Set("code_challenge", s256(verifier))
		extra.Set("code_challenge_method", "S256")
	}
	loc := s.Authorize(t, authURL(s, extra))
	q := loc.Query()
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("redirect = %s, want code and state", loc)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return q.Get("code")
}

func exchangeForm(code, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

func TestAuthorizationCodePKCE(t *testing.T) {
	s := New(t, Options{RequirePKCE: true})
	verifier := strings.Repeat("v", 50)

	// Correct verifier: token, then the resource accepts it.
	status, tok := postToken(t, s, exchangeForm(codeFor(t, s, verifier), verifier), true)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	if tok["token_type"] != "Bearer" || tok["access_token"] == "" || tok["refresh_token"] == nil {
		t.Fatalf("token response = %v", tok)
	}
	if exp, _ := tok["expires_in"].(float64); exp != 3600 {
		t.Errorf("expires_in = %v, want 3600", tok["expires_in"])
	}
	status, me, _ := getMe(t, s, tok["access_token"].(string))
	if status != http.StatusOK || me["user"] != UserID || me["client_id"] != "client-1" {
		t.Fatalf("/api/me = %d %v", status, me)
	}

	// Wrong verifier: invalid_grant, and the code is burnt.
	code := codeFor(t, s, verifier)
	status, body := postToken(t, s, exchangeForm(code, strings.Repeat("w", 50)), true)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", status, body)
	}
	if status, body = postToken(t, s, exchangeForm(code, verifier), true); body["error"] != "invalid_grant" {
		t.Fatalf("reused code: %d %v", status, body)
	}

	// Missing verifier.
	status, body = postToken(t, s, exchangeForm(codeFor(t, s, verifier), ""), true)
	if status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Fatalf("missing verifier: %d %v", status, body)
	}

	// Missing challenge is refused at /authorize (redirected error).
	loc := s.Authorize(t, authURL(s, nil))
	if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st-1" || q.Get("code") != "" {
		t.Fatalf("no challenge: redirect = %s", loc)
	}
	// So is the plain method.
	loc = s.Authorize(t, authURL(s, url.Values{"code_challenge": {verifier}, "code_challenge_method": {"plain"}}))
	if loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("plain challenge: redirect = %s", loc)
	}

	if got := s.InvalidGrants(); got != 2 {
		t.Errorf("InvalidGrants = %d, want 2", got)
	}
	if got := s.Grants("authorization_code"); got != 4 {
		t.Errorf("Grants(authorization_code) = %d, want 4", got)
	}
}

func TestPKCEOptionalButEnforced(t *testing.T) {
	s := New(t, Options{})
	// Without PKCE at all.
	if status, body := postToken(t, s, exchangeForm(codeFor(t, s, ""), ""), false); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("unauthenticated exchange: %d %v", status, body)
	}
	form := exchangeForm(codeFor(t, s, ""), "")
	form.Set("client_id", "client-1")
	form.Set("client_secret", "secret-1")
	if status, body := postToken(t, s, form, false); status != http.StatusOK {
		t.Fatalf("exchange without PKCE: %d %v", status, body)
	}
	// A challenge was sent but no verifier: invalid_grant (go-oauth2 alone
	// would answer server_error).
	verifier := strings.Repeat("x", 43)
	if status, body := postToken(t, s, exchangeForm(codeFor(t, s, verifier), ""), true); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("challenge without verifier: %d %v", status, body)
	}
}

func TestAuthorizeDenyAndRedirectChecks(t *testing.T) {
	s := New(t, Options{})
	loc := s.Authorize(t, authURL(s, url.Values{"login_hint": {DenyLoginHint}}))
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-1" || q.Get("code") != "" {
		t.Fatalf("deny: redirect = %s", loc)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, bad := range []url.Values{
		{"redirect_uri": {"http://evil.example/cb"}},
		{"client_id": {"nobody"}},
	} {
		resp, err := noRedirect.Get(authURL(s, bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: status %d, want 400 without redirect", bad, resp.StatusCode)
		}
	}

	d := New(t, Options{DenyAuthorization: true, RedirectURIs: []string{"http://localhost:1/cb"}})
	loc = d.Authorize(t, d.AuthorizeURL+"?response_type=code&client_id=client-1&state=z&redirect_uri="+
		url.QueryEscape("http://localhost:9999/cb"))
	if loc.Host != "localhost:9999" || loc.Query().Get("error") != "access_denied" {
		t.Fatalf("DenyAuthorization: redirect = %s", loc)
	}
}

func TestClientCredentials(t *testing.T) {
	s := New(t, Options{Scopes: []string{"read", "write"}})
	ctx := context.Background()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{
			ClientID: "client-1", ClientSecret: "secret-1", TokenURL: s.TokenURL,
			Scopes: []string{"read"}, AuthStyle: style,
		}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.RefreshToken != "" || tok.Expiry.IsZero() {
			t.Errorf("style %v: token = %+v", style, tok)
		}
		status, me, _ := getMe(t, s, tok.AccessToken)
		if status != http.StatusOK || me["scope"] != "read" || me["client_id"] != "client-1" {
			t.Errorf("style %v: /api/me = %d %v", style, status, me)
		}
	}

	for _, basic := range []bool{true, false} {
		form := url.Values{"grant_type": {"client_credentials"}}
		user := "client-1"
		if !basic {
			form.Set("client_id", "client-1")
			form.Set("client_secret", "wrong")
			user = ""
		}
		status, body := postTokenAs(t, s, form, user, "wrong")
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("wrong secret (basic=%v): %d %v", basic, status, body)
		}
	}

	cc := clientcredentials.Config{ClientID: "client-1", ClientSecret: "secret-1", TokenURL: s.TokenURL, Scopes: []string{"admin"}, AuthStyle: oauth2.AuthStyleInHeader}
	var re *oauth2.RetrieveError
	if _, err := cc.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Errorf("unknown scope: err = %v", err)
	}

	if got := s.Grants("client_credentials"); got != 5 {
		t.Errorf("Grants(client_credentials) = %d, want 5", got)
	}
}

func TestPublicClient(t *testing.T) {
	s := New(t, Options{PublicClient: true, ClientID: "cli"})
	verifier := strings.Repeat("p", 60)
	form := exchangeForm(codeFor(t, s, verifier), verifier)
	form.Set("client_id", "cli")
	if status, body := postToken(t, s, form, false); status != http.StatusOK {
		t.Fatalf("public exchange: %d %v", status, body)
	}
	if status, body := postToken(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {"cli"}}, false); status != http.StatusUnauthorized {
		t.Fatalf("public client_credentials: %d %v", status, body)
	}
}

func TestRefreshRotation(t *testing.T) {
	s := New(t, Options{RotateRefreshTokens: true})
	_, tok := postToken(t, s, exchangeForm(codeFor(t, s, ""), ""), true)
	rt0 := tok["refresh_token"].(string)

	refresh := func(rt string) (int, map[string]any) {
		return postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	}
	status, t1 := refresh(rt0)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, t1)
	}
	rt1, _ := t1["refresh_token"].(string)
	if rt1 == "" || rt1 == rt0 || t1["access_token"] == tok["access_token"] {
		t.Fatalf("refresh did not rotate: %v", t1)
	}
	if status, me, _ := getMe(t, s, t1["access_token"].(string)); status != http.StatusOK || me["user"] != UserID {
		t.Fatalf("/api/me with refreshed token = %d %v", status, me)
	}

	// Reusing the rotated-out token fails and is counted.
	if status, body := refresh(rt0); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", status, body)
	}
	if status, t2 := refresh(rt1); status != http.StatusOK || t2["refresh_token"] == rt1 {
		t.Fatalf("second refresh: %d %v", status, t2)
	}

	// Client authentication applies to refresh_token too.
	status, body := postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}, false)
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("unauthenticated refresh: %d %v", status, body)
	}

	if got := s.InvalidGrants(); got != 1 {
		t.Errorf("InvalidGrants = %d, want 1", got)
	}
	if got := s.Grants("refresh_token"); got != 4 {
		t.Errorf("Grants(refresh_token) = %d, want 4", got)
	}
	if got := s.TokenRequests(); got != 5 {
		t.Errorf("TokenRequests = %d, want 5", got)
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	s := New(t, Options{Scopes: []string{"a", "b"}})
	loc := s.Authorize(t, authURL(s, url.Values{"scope": {"a b"}}))
	_, tok := postToken(t, s, exchangeForm(loc.Query().Get("code"), ""), true)
	rt := tok["refresh_token"].(string)
	for range 2 {
		status, body := postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
		if status != http.StatusOK || body["refresh_token"] != nil || body["scope"] != "a b" {
			t.Fatalf("refresh: %d %v", status, body)
		}
	}
	// Narrowing is allowed, widening is not.
	status, body := postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"a"}}, true)
	if status != http.StatusOK || body["scope"] != "a" {
		t.Fatalf("narrow: %d %v", status, body)
	}
	status, body = postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"a c"}}, true)
	if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Fatalf("widen: %d %v", status, body)
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	s := New(t, Options{AccessTokenTTL: time.Second})
	conf := &oauth2.Config{
		ClientID: "client-1", ClientSecret: "secret-1", RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: s.AuthorizeURL, TokenURL: s.TokenURL},
	}
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	loc := s.Authorize(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(tok.Expiry); d <= 0 || d > time.Second {
		t.Errorf("token expiry in %v, want (0, 1s]", d)
	}
	if status, _, _ := getMe(t, s, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("fresh token: %d", status)
	}
	time.Sleep(1200 * time.Millisecond)
	status, _, h := getMe(t, s, tok.AccessToken)
	if status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("expired token: %d %q", status, h.Get("WWW-Authenticate"))
	}
	// The oauth2 TokenSource refreshes the expired token transparently.
	nt, err := conf.TokenSource(ctx, tok).Token()
	if err != nil || nt.AccessToken == tok.AccessToken {
		t.Fatalf("refresh via TokenSource: %v %+v", err, nt)
	}
	if status, _, _ := getMe(t, s, nt.AccessToken); status != http.StatusOK {
		t.Fatalf("refreshed token: %d", status)
	}
	if s.Grants("refresh_token") != 1 || s.Grants("authorization_code") != 1 || s.TokenRequests() != 2 {
		t.Errorf("counters: code=%d refresh=%d total=%d", s.Grants("authorization_code"), s.Grants("refresh_token"), s.TokenRequests())
	}
}

func TestResourceWithoutToken(t *testing.T) {
	s := New(t, Options{})
	status, _, h := getMe(t, s, "")
	if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", status, h.Get("WWW-Authenticate"))
	}
	if status, _, _ := getMe(t, s, "bogus"); status != http.StatusUnauthorized {
		t.Fatalf("bogus token: %d", status)
	}
	if s.TokenRequests() != 0 {
		t.Errorf("TokenRequests = %d", s.TokenRequests())
	}
}
