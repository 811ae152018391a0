package oauth2

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seen is what the test token endpoint received.
type seen struct {
	Header http.Header
	Body   string
	Fields map[string]string // form or JSON fields
}

// fakeEndpoint is a token endpoint answering with a fixed response and recording
// the requests it got.
type fakeEndpoint struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newEndpoint(t *testing.T, status int, contentType, body string) *fakeEndpoint {
	t.Helper()
	e := &fakeEndpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.record(t, r)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *fakeEndpoint) record(t *testing.T, r *http.Request) seen {
	if r.Method != http.MethodPost {
		t.Errorf("token request method = %s, want POST", r.Method)
	}
	raw, _ := io.ReadAll(r.Body)
	s := seen{Header: r.Header.Clone(), Body: string(raw), Fields: map[string]string{}}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &s.Fields); err != nil {
			t.Errorf("JSON token request body %q: %v", raw, err)
		}
	} else {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			t.Errorf("form token request body %q: %v", raw, err)
		}
		for k, v := range vals {
			s.Fields[k] = v[0]
		}
	}
	e.mu.Lock()
	e.reqs = append(e.reqs, s)
	e.mu.Unlock()
	return s
}

func (e *fakeEndpoint) last(t *testing.T) seen {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.reqs) == 0 {
		t.Fatal("token endpoint got no request")
	}
	return e.reqs[len(e.reqs)-1]
}

func testConfig(tokenURI string) Config {
	return Config{
		ClientID:     "my-client",
		ClientSecret: "my-secret",
		AuthorizeURI: "https://auth.example/authorize",
		TokenURI:     tokenURI,
		Now:          func() time.Time { return testNow },
	}
}

func wantFields(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("request field %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestExchangeExpiry(t *testing.T) {
	cases := map[string]struct {
		contentType, body string
		defaultExpires    time.Duration
		want              time.Time
	}{
		"expires_in number":            {"application/json", `{"access_token":"at","expires_in":3600}`, 0, testNow.Add(time.Hour)},
		"expires_in string":            {"application/json", `{"access_token":"at","expires_in":"3600"}`, 0, testNow.Add(time.Hour)},
		"expires_in wins over default": {"application/json", `{"access_token":"at","expires_in":60}`, time.Hour, testNow.Add(time.Minute)},
		"expires_at unix":              {"application/json", `{"access_token":"at","expires_at":1772370000}`, 0, time.Unix(1772370000, 0)},
		"expires_at unix string":       {"application/json", `{"access_token":"at","expires_at":"1772370000"}`, 0, time.Unix(1772370000, 0)},
		"expires_at unix millis":       {"application/json", `{"access_token":"at","expires_at":1772370000500}`, 0, time.Unix(1772370000, 5e8)},
		"expires_at RFC 3339":          {"application/json", `{"access_token":"at","expires_at":"2026-03-01T13:00:00Z"}`, 0, testNow.Add(time.Hour)},
		"expires_in zero uses default": {"application/json", `{"access_token":"at","expires_in":0}`, 2 * time.Hour, testNow.Add(2 * time.Hour)},
		"no expiry":                    {"application/json", `{"access_token":"at"}`, 0, time.Time{}},
		"no expiry, default":           {"application/json", `{"access_token":"at"}`, 30 * time.Minute, testNow.Add(30 * time.Minute)},
		"form-encoded":                 {"application/x-www-form-urlencoded; charset=utf-8", `access_token=at&scope=repo%2Cgist&token_type=bearer&expires_in=3600`, 0, testNow.Add(time.Hour)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newEndpoint(t, http.StatusOK, tc.contentType, tc.body)
			c := testConfig(srv.URL)
			c.DefaultExpiresIn = tc.defaultExpires
			tok, err := c.Exchange(context.Background(), srv.Client(), "the-code", "https://app.example/cb", "the-verifier")
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != "at" {
				t.Errorf("AccessToken = %q", tok.AccessToken)
			}
			if !tok.ExpiresAt.Equal(tc.want) {
				t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, tc.want)
			}
			if got, want := tok.Expired(testNow.Add(100*365*24*time.Hour), 0), !tc.want.IsZero(); got != want {
				t.Errorf("Expired far in the future = %v, want %v (ExpiresAt %v)", got, want, tok.ExpiresAt)
			}
		})
	}
}

func TestExchangeRequest(t *testing.T) {
	srv := newEndpoint(t, http.StatusOK, "application/json", `{"access_token":"at","refresh_token":"rt","token_type":"Bearer","scope":"a b","id_token":"x","expires_in":10}`)
	c := testConfig(srv.URL)
	c.ClientAuthLocation = AuthInHeaders // unset means both
	c.TokenParams = map[string]string{"audience": "api", "grant_type": "ignored"}
	c.TokenHeaders = map[string]string{"X-Api-Version": "2024-01"}
	tok, err := c.Exchange(context.Background(), srv.Client(), "the-code", "https://app.example/cb", "the-verifier")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "rt" || tok.TokenType != "Bearer" || tok.Scope != "a b" || tok.Raw["id_token"] != "x" || tok.Raw["expires_in"] != float64(10) {
		t.Errorf("token = %+v", tok)
	}
	got := srv.last(t)
	if ct := got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if a := got.Header.Get("Accept"); a != "application/json" {
		t.Errorf("Accept = %q", a)
	}
	if v := got.Header.Get("X-Api-Version"); v != "2024-01" {
		t.Errorf("TokenHeaders not sent: X-Api-Version = %q", v)
	}
	wantFields(t, got.Fields, map[string]string{
		"grant_type": "authorization_code", "code": "the-code", "redirect_uri": "https://app.example/cb",
		"code_verifier": "the-verifier", "audience": "api",
	})
	if _, ok := got.Fields["client_secret"]; ok {
		t.Error("client_secret in the body with header auth")
	}

	c.SkipPKCE = true
	if _, err := c.Exchange(context.Background(), srv.Client(), "the-code", "", "the-verifier"); err != nil {
		t.Fatal(err)
	}
	got = srv.last(t)
	if _, ok := got.Fields["code_verifier"]; ok {
		t.Error("code_verifier sent with SkipPKCE")
	}
	if _, ok := got.Fields["redirect_uri"]; ok {
		t.Error("empty redirect_uri sent")
	}
}

func TestJSONRequestFormat(t *testing.T) {
	var gotCT string
	var gotBody map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotCT = r.Header.Get("Content-Type")
		if err := json.NewDecoder(r.Body).Decode(&gotBody); err != nil {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at"}`)
	}))
	defer srv.Close()
	c := testConfig(srv.URL)
	c.TokenRequestFormat = FormatJSON
	c.ClientAuthLocation = AuthInBody
	c.TokenParams = map[string]string{"n": "1"}
	if _, err := c.Exchange(context.Background(), srv.Client(), "the-code", "https://app.example/cb", "v"); err != nil {
		t.Fatal(err)
	}
	if gotCT != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", gotCT)
	}
	want := map[string]any{
		"grant_type": "authorization_code", "code": "the-code", "redirect_uri": "https://app.example/cb",
		"code_verifier": "v", "client_id": "my-client", "client_secret": "my-secret", "n": "1",
	}
	if len(gotBody) != len(want) {
		t.Errorf("JSON body = %v, want %v", gotBody, want)
	}
	for k, v := range want {
		if gotBody[k] != v {
			t.Errorf("JSON body %s = %v, want %v", k, gotBody[k], v)
		}
	}
}

func TestClientAuthLocation(t *testing.T) {
	const id, secret = "id:with+chars", "se:cr+et/="
	wantBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("id%3Awith%2Bchars:se%3Acr%2Bet%2F%3D"))
	cases := []struct {
		location, secret string
		header           bool
		bodyID, bodySec  bool
	}{
		// Unset means both: "Where to send client credentials (headers, body,
		// or both if not specified)", console.integration.app/docs/connector-builder/
		// authentication/types/oauth2, "Config Parameters".
		{"", secret, true, true, true},
		{AuthInHeaders, secret, true, false, false},
		{AuthInBody, secret, false, true, true},
		{AuthInBoth, secret, true, true, true},
		{AuthInHeaders, "", false, true, false}, // public client
	}
	for _, tc := range cases {
		t.Run(tc.location+"/"+tc.secret, func(t *testing.T) {
			srv := newEndpoint(t, http.StatusOK, "application/json", `{"access_token":"at"}`)
			c := testConfig(srv.URL)
			c.ClientID, c.ClientSecret, c.ClientAuthLocation = id, tc.secret, tc.location
			if _, err := c.ClientCredentials(context.Background(), srv.Client()); err != nil {
				t.Fatal(err)
			}
			got := srv.last(t)
			auth := got.Header.Get("Authorization")
			if tc.header && auth != wantBasic {
				t.Errorf("Authorization = %q, want %q", auth, wantBasic)
			}
			if !tc.header && auth != "" {
				t.Errorf("Authorization = %q, want none", auth)
			}
			if tc.header {
				// The server side of RFC 6749 2.3.1: decode Basic, then form-decode each half.
				r := &http.Request{Header: got.Header}
				u, p, ok := r.BasicAuth()
				u, _ = url.QueryUnescape(u)
				p, _ = url.QueryUnescape(p)
				if !ok || u != id || p != secret {
					t.Errorf("Basic decodes to %q:%q", u, p)
				}
			}
			if _, ok := got.Fields["client_id"]; ok != tc.bodyID || (ok && got.Fields["client_id"] != id) {
				t.Errorf("client_id in body = %q (present %v), want present %v", got.Fields["client_id"], ok, tc.bodyID)
			}
			if _, ok := got.Fields["client_secret"]; ok != tc.bodySec || (ok && got.Fields["client_secret"] != secret) {
				t.Errorf("client_secret in body present %v, want %v", ok, tc.bodySec)
			}
		})
	}
}

func TestClientCredentials(t *testing.T) {
	srv := newEndpoint(t, http.StatusOK, "application/json", `{"access_token":"at","expires_in":"120","scope":["a","b"]}`)
	c := testConfig(srv.URL)
	c.GrantType = GrantClientCredentials
	c.Scopes = []string{"a", "b"}
	c.ScopeSeparator = ","
	c.TokenParams = map[string]string{"audience": "https://api.example"}
	tok, err := c.ClientCredentials(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Scope != "a b" || !tok.ExpiresAt.Equal(testNow.Add(2*time.Minute)) {
		t.Errorf("token = %+v", tok)
	}
	wantFields(t, srv.last(t).Fields, map[string]string{"grant_type": "client_credentials", "scope": "a,b", "audience": "https://api.example"})
}

func TestRefresh(t *testing.T) {
	tokenSrv := newEndpoint(t, http.StatusOK, "application/json", `{"access_token":"wrong endpoint"}`)
	refreshSrv := newEndpoint(t, http.StatusOK, "application/json", `{"access_token":"at2","expires_in":3600}`)
	c := testConfig(tokenSrv.URL)
	c.RefreshURI = refreshSrv.URL
	c.Scopes = []string{"a"}
	c.TokenParams = map[string]string{"only": "token"}
	c.RefreshParams = map[string]string{"resource": "r1"}
	tok, err := c.Refresh(context.Background(), refreshSrv.Client(), "old-refresh")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at2" || tok.RefreshToken != "" {
		t.Errorf("token = %+v; want the new access token and no refresh token", tok)
	}
	got := refreshSrv.last(t)
	wantFields(t, got.Fields, map[string]string{"grant_type": "refresh_token", "refresh_token": "old-refresh", "resource": "r1"})
	for _, k := range []string{"scope", "only", "code_verifier"} {
		if _, ok := got.Fields[k]; ok {
			t.Errorf("refresh request has %s", k)
		}
	}
	if len(tokenSrv.reqs) != 0 {
		t.Error("refresh went to TokenURI despite RefreshURI")
	}

	// Without RefreshURI it goes to TokenURI; RefreshParams may ask for scope; rotation is reported.
	rot := newEndpoint(t, http.StatusOK, "application/json", `{"access_token":"at3","refresh_token":"new-refresh"}`)
	c = testConfig(rot.URL)
	c.RefreshParams = map[string]string{"scope": "a b"}
	tok, err = c.Refresh(context.Background(), nil, "old-refresh")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "new-refresh" {
		t.Errorf("rotated RefreshToken = %q", tok.RefreshToken)
	}
	wantFields(t, rot.last(t).Fields, map[string]string{"scope": "a b"})

	if _, err := c.Refresh(context.Background(), nil, ""); err == nil {
		t.Error("empty refresh token accepted")
	}
}

func TestTokenErrors(t *testing.T) {
	cases := map[string]struct {
		status            int
		contentType, body string
		code              string
		transient         bool
		invalidGrant      bool
	}{
		"invalid_grant":        {400, "application/json", `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, "invalid_grant", false, true},
		"invalid_client 401":   {401, "application/json;charset=UTF-8", `{"error":"invalid_client"}`, "invalid_client", false, false},
		"500 JSON":             {500, "application/json", `{"error":"server_error"}`, "server_error", true, false},
		"500 plain":            {502, "text/plain", `Bad Gateway`, "", true, false},
		"503 HTML":             {503, "text/html", `<html>down</html>`, "", true, false},
		"429":                  {429, "application/json", `{"message":"slow down"}`, "", true, false},
		"200 HTML":             {200, "text/html; charset=utf-8", `<!doctype html><title>Login</title>`, "", true, false},
		"200 empty":            {200, "application/json", ``, "", true, false},
		"200 broken JSON":      {200, "application/json", `{"access_token":`, "", true, false},
		"200 JSON array":       {200, "application/json", `["at"]`, "", true, false},
		"200 no access_token":  {200, "application/json", `{"token_type":"bearer"}`, "", true, false},
		"200 with error":       {200, "application/json", `{"ok":false,"error":"invalid_code"}`, "invalid_code", false, false},
		"200 error object":     {200, "application/json", `{"error":{"type":"OAuthException","message":"Invalid code"}}`, "OAuthException", false, false},
		"200 form error":       {200, "application/x-www-form-urlencoded", `error=bad_verification_code&error_description=The+code+passed+is+incorrect`, "bad_verification_code", false, false},
		"200 temporarily":      {200, "application/json", `{"error":"temporarily_unavailable"}`, "temporarily_unavailable", true, false},
		"400 invalid_grant fm": {400, "", `error=invalid_grant`, "invalid_grant", false, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newEndpoint(t, tc.status, tc.contentType, tc.body)
			c := testConfig(srv.URL)
			tok, err := c.Refresh(context.Background(), srv.Client(), "rt")
			if err == nil {
				t.Fatalf("no error, token %+v", tok)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %T %v, want *TokenError", err, err)
			}
			if te.Status != tc.status || te.Code != tc.code || te.Transient != tc.transient {
				t.Errorf("TokenError{Status %d, Code %q, Transient %v}, want {%d, %q, %v}: %v",
					te.Status, te.Code, te.Transient, tc.status, tc.code, tc.transient, err)
			}
			if errors.Is(err, ErrInvalidGrant) != tc.invalidGrant {
				t.Errorf("errors.Is(err, ErrInvalidGrant) = %v, want %v", !tc.invalidGrant, tc.invalidGrant)
			}
		})
	}
}

func TestInvalidGrantDescription(t *testing.T) {
	srv := newEndpoint(t, 400, "application/json", `{"error":"invalid_grant","error_description":"Token has been\nexpired or revoked."}`)
	_, err := testConfig(srv.URL).Refresh(context.Background(), srv.Client(), "rt")
	var te *TokenError
	if !errors.As(err, &te) || te.Description != "Token has been expired or revoked." {
		t.Fatalf("err = %v", err)
	}
	if want := "oauth2: token endpoint returned HTTP 400: invalid_grant: Token has been expired or revoked."; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestOversizedResponse(t *testing.T) {
	big := `{"access_token":"at","pad":"` + strings.Repeat("x", MaxResponseSize) + `"}`
	srv := newEndpoint(t, http.StatusOK, "application/json", big)
	_, err := testConfig(srv.URL).ClientCredentials(context.Background(), srv.Client())
	var te *TokenError
	if !errors.As(err, &te) || !te.Transient || !errors.Is(err, errTooLarge) || !strings.Contains(err.Error(), "response too large") {
		t.Fatalf("err = %v, want transient response too large", err)
	}
	// Exactly the limit is still read.
	fit := `{"access_token":"at","pad":"` + strings.Repeat("x", MaxResponseSize-len(`{"access_token":"at","pad":""}`)) + `"}`
	srv = newEndpoint(t, http.StatusOK, "application/json", fit)
	if _, err := testConfig(srv.URL).ClientCredentials(context.Background(), srv.Client()); err != nil {
		t.Fatalf("response of exactly MaxResponseSize: %v", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hits int
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.WriteString(w, `{"access_token":"stolen"}`)
	}))
	defer elsewhere.Close()
	for _, status := range []int{301, 302, 307, 308} {
		srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/token", status))
		c := testConfig(srv.URL)
		hc := &http.Client{} // a client that would follow redirects by default
		_, err := c.Exchange(context.Background(), hc, "the-code", "", "v")
		srv.Close()
		var te *TokenError
		if !errors.As(err, &te) || te.Status != status || te.Transient {
			t.Errorf("%d: err = %v, want a final TokenError with the status", status, err)
		}
		if hc.CheckRedirect != nil {
			t.Error("the caller's client was modified")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Fatalf("the redirect target got %d token requests", hits)
	}
}

func TestContextTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := testConfig(srv.URL).Exchange(ctx, srv.Client(), "the-code", "", "v")
	if time.Since(start) > 5*time.Second {
		t.Fatal("the request outlived its context")
	}
	var te *TokenError
	if !errors.As(err, &te) || !te.Transient || te.Status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a transient TokenError wrapping context.DeadlineExceeded", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	uri := srv.URL + "/token?api_key=hunter2-key"
	srv.Close()
	_, err := testConfig(uri).ClientCredentials(context.Background(), nil)
	var te *TokenError
	if !errors.As(err, &te) || !te.Transient || te.Err == nil {
		t.Fatalf("err = %v, want a transient transport TokenError", err)
	}
	if strings.Contains(err.Error(), "hunter2-key") {
		t.Fatalf("the token URL's query leaked into %q", err)
	}
}

func TestExpired(t *testing.T) {
	tok := &Token{AccessToken: "at", ExpiresAt: testNow.Add(time.Minute)}
	for _, tc := range []struct {
		now    time.Time
		margin time.Duration
		want   bool
	}{
		{testNow, 0, false},
		{testNow, 59 * time.Second, false},
		{testNow, time.Minute, true},
		{testNow.Add(time.Minute), 0, true},
		{testNow.Add(2 * time.Minute), 0, true},
	} {
		if got := tok.Expired(tc.now, tc.margin); got != tc.want {
			t.Errorf("Expired(%v, %v) = %v, want %v", tc.now, tc.margin, got, tc.want)
		}
	}
	if (&Token{AccessToken: "at"}).Expired(testNow.Add(1e6*time.Hour), time.Hour) {
		t.Error("a token without expiry expired")
	}
	var nilTok *Token
	if !nilTok.Expired(testNow, 0) || !(&Token{}).Expired(testNow, 0) {
		t.Error("a missing token is not expired")
	}
}
