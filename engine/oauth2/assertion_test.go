package oauth2

import (
	"github.com/connspec/connspec/engine/jwtgrant"

	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	assertKeysOnce sync.Once
	assertRSA      *rsa.PrivateKey
	assertP256     *ecdsa.PrivateKey
	assertP384     *ecdsa.PrivateKey
	assertEd       ed25519.PrivateKey
)

func assertionKeys(t *testing.T) {
	t.Helper()
	assertKeysOnce.Do(func() {
		var err error
		if assertRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		assertP256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		assertP384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		_, assertEd, _ = ed25519.GenerateKey(rand.Reader)
	})
}

func privatePEM(t *testing.T, k crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// assertionServer is a token endpoint that verifies every JWT it receives
// on its own: the JWT's signature with the expected public key (or client
// secret) and only the expected alg, its iss, sub, aud, exp and iat at the
// server's clock, and that no client secret travelled alongside. A request
// that fails a check gets a 400 or 401 like a real server's.
type assertionServer struct {
	*httptest.Server
	verifyKey any    // public key, or []byte for HMAC
	alg       string // the only accepted alg
	iss, sub  string // expected; sub "" means it must be absent
	aud       string // expected; "" means the server's own token URL
	maxLife   time.Duration
	requests  atomic.Int32
	mu        sync.Mutex
	fields    url.Values
	header    http.Header
	claims    jwt.MapClaims
	jwtHeader map[string]any
}

func newAssertionServer(t *testing.T, verifyKey any, alg, iss, sub string) *assertionServer {
	t.Helper()
	s := &assertionServer{verifyKey: verifyKey, alg: alg, iss: iss, sub: sub, maxLife: 10 * time.Minute}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *assertionServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.fields, s.header = form, r.Header.Clone()
	s.mu.Unlock()
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	var token string
	switch {
	case form.Get("grant_type") == GrantJWTBearer:
		token = form.Get("assertion")
	case form.Get("client_assertion_type") == ClientAssertionType:
		token = form.Get("client_assertion")
	default:
		fail(401, "invalid_client", "no assertion")
		return
	}
	if form.Has("client_secret") || r.Header.Get("Authorization") != "" {
		fail(400, "invalid_request", "a client secret was sent with an assertion")
		return
	}
	if msg := s.check(token, "http://"+r.Host+r.URL.Path); msg != "" {
		fail(400, "invalid_grant", msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)
}

// check verifies one JWT; it returns why a server would refuse it.
func (s *assertionServer) check(token, tokenURL string) string {
	aud := s.aud
	if aud == "" {
		aud = tokenURL
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.verifyKey, nil },
		jwt.WithValidMethods([]string{s.alg}), jwt.WithTimeFunc(func() time.Time { return testNow }),
		jwt.WithIssuer(s.iss), jwt.WithAudience(aud), jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil {
		return err.Error()
	}
	s.mu.Lock()
	s.claims, s.jwtHeader = claims, parsed.Header
	s.mu.Unlock()
	if sub, _ := claims["sub"].(string); sub != s.sub {
		return fmt.Sprintf("sub %q, want %q", sub, s.sub)
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if exp.Sub(iat.Time) > s.maxLife {
		return "assertion lives too long"
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return "no jti"
	}
	return ""
}

func (s *assertionServer) last() (url.Values, http.Header, jwt.MapClaims, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fields, s.header, s.claims, s.jwtHeader
}

// TestJWTBearerGrant sends RFC 7523 section 2.1 grants signed with every
// key type to a token endpoint that verifies them independently.
func TestJWTBearerGrant(t *testing.T) {
	assertionKeys(t)
	cases := []struct {
		alg string
		key crypto.Signer
	}{
		{"RS256", assertRSA}, {"RS384", assertRSA}, {"RS512", assertRSA}, {"PS256", assertRSA},
		{"ES256", assertP256}, {"ES384", assertP384}, {"EdDSA", assertEd},
	}
	for _, tc := range cases {
		t.Run(tc.alg, func(t *testing.T) {
			srv := newAssertionServer(t, tc.key.Public(), tc.alg, "svc@example.com", "user@example.com")
			key, err := jwtgrant.ParsePrivateKey([]byte(privatePEM(t, tc.key)), tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{TokenURI: srv.URL + "/token", Scopes: []string{"api", "refresh"}, TokenParams: map[string]string{"resource": "https://api.example"},
				Now: func() time.Time { return testNow }}
			tok, err := cfg.JWTBearer(context.Background(), srv.Client(), key, jwtgrant.Claims{Issuer: "svc@example.com", Subject: "user@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != "at-1" || !tok.ExpiresAt.Equal(testNow.Add(time.Hour)) {
				t.Errorf("token = %+v", tok)
			}
			fields, _, _, _ := srv.last()
			if fields.Get("scope") != "api refresh" || fields.Get("resource") != "https://api.example" || fields.Has("client_id") {
				t.Errorf("request fields = %v", fields)
			}
		})
	}
}

// TestJWTBearerGoogleServiceAccount: a pasted key file drives the grant;
// Google's endpoint (here on loopback) checks kid, iss = client_email, aud
// = token_uri and the scope claim.
func TestJWTBearerGoogleServiceAccount(t *testing.T) {
	assertionKeys(t)
	srv := newAssertionServer(t, &assertRSA.PublicKey, "RS256", "robot@p.iam.gserviceaccount.com", "")
	srv.maxLife = time.Hour
	// The key file names the token URL; an https-only check keeps loopback
	// out, so the test server's URL is given as the audience separately.
	file, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "robot@p.iam.gserviceaccount.com", "private_key_id": "kid-42",
		"private_key": privatePEM(t, assertRSA), "token_uri": "https://oauth2.googleapis.com/token",
	})
	sa, err := jwtgrant.ParseServiceAccount(file)
	if err != nil {
		t.Fatal(err)
	}
	srv.aud = sa.TokenURI
	cfg := Config{TokenURI: srv.URL + "/token", Now: func() time.Time { return testNow }}
	if _, err := cfg.JWTBearer(context.Background(), srv.Client(), sa.Key, sa.Claims([]string{"https://www.googleapis.com/auth/cloud-platform"}, "")); err != nil {
		t.Fatal(err)
	}
	_, _, claims, header := srv.last()
	if header["kid"] != "kid-42" || claims["scope"] != "https://www.googleapis.com/auth/cloud-platform" {
		t.Errorf("kid %v, scope %v", header["kid"], claims["scope"])
	}
}

// TestJWTBearerRefusals: a bad assertion is never sent, and a server's
// refusal is a TokenError without the assertion in it.
func TestJWTBearerRefusals(t *testing.T) {
	assertionKeys(t)
	srv := newAssertionServer(t, assertP256.Public(), "ES256", "iss", "")
	key, _ := jwtgrant.ParsePrivateKey([]byte(privatePEM(t, assertP256)), "")
	cfg := Config{TokenURI: srv.URL + "/token", Now: func() time.Time { return testNow }}
	ctx := context.Background()
	for name, c := range map[string]jwtgrant.Claims{
		"no issuer":     {},
		"long lifetime": {Issuer: "iss", Lifetime: 2 * time.Hour},
		"shadowed exp":  {Issuer: "iss", Extra: map[string]any{"exp": 1}},
	} {
		if _, err := cfg.JWTBearer(ctx, srv.Client(), key, c); err == nil {
			t.Errorf("%s: JWTBearer succeeded", name)
		}
	}
	if _, err := (Config{}).JWTBearer(ctx, srv.Client(), key, jwtgrant.Claims{Issuer: "iss"}); err == nil || !strings.Contains(err.Error(), "tokenUri") {
		t.Errorf("no tokenUri: err = %v", err)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("%d requests sent for refused assertions", n)
	}

	// Wrong issuer: the server refuses; the error is the server's, scrubbed.
	_, err := cfg.JWTBearer(ctx, srv.Client(), key, jwtgrant.Claims{Issuer: "someone-else"})
	if !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("wrong issuer: err = %v, want invalid_grant", err)
	}
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "got " + string(b)})
	}))
	defer echo.Close()
	_, err = Config{TokenURI: echo.URL, Now: func() time.Time { return testNow }}.JWTBearer(ctx, echo.Client(), key, jwtgrant.Claims{Issuer: "iss"})
	if err == nil || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("echoed assertion: err = %v, want it scrubbed", err)
	}
}

// TestClientAssertionAuth: private_key_jwt and client_secret_jwt on every
// token request (code exchange, client credentials, refresh to its own
// URL), verified by the endpoint: iss = sub = client id, aud = the URL the
// request went to, no client secret in the body or a Basic header.
func TestClientAssertionAuth(t *testing.T) {
	assertionKeys(t)
	const secret = "canary-client-secret-0123456789abcdef"
	pkKey, _ := jwtgrant.ParsePrivateKey([]byte(privatePEM(t, assertP256)), "")
	pk, err := PrivateKeyJWT("my-client", pkKey, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ClientSecretJWT("my-client", secret, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, loc, alg string
		verify         any
		signer         ClientAssertion
	}{
		{"private_key_jwt", AuthPrivateKeyJWT, "ES256", assertP256.Public(), pk},
		{"client_secret_jwt", AuthClientSecretJWT, "HS256", []byte(secret), cs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAssertionServer(t, tc.verify, tc.alg, "my-client", "my-client")
			cfg := Config{ClientID: "my-client", ClientSecret: secret, ClientAuthLocation: tc.loc, ClientAssertion: tc.signer,
				AuthorizeURI: "https://auth.example/authorize", TokenURI: srv.URL + "/token", RefreshURI: srv.URL + "/refresh",
				Now: func() time.Time { return testNow }}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			steps := map[string]func() (*Token, error){
				"exchange":           func() (*Token, error) { return cfg.Exchange(ctx, srv.Client(), "code-1", "https://app/cb", "") },
				"client credentials": func() (*Token, error) { return cfg.ClientCredentials(ctx, srv.Client()) },
				"refresh":            func() (*Token, error) { return cfg.Refresh(ctx, srv.Client(), "rt-1") },
			}
			for step, do := range steps {
				if _, err := do(); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				fields, header, _, _ := srv.last()
				if fields.Get("client_id") != "my-client" || fields.Has("client_secret") || header.Get("Authorization") != "" {
					t.Errorf("%s: fields %v, Authorization %q", step, fields, header.Get("Authorization"))
				}
			}
		})
	}
}

// TestClientAssertionMismatch: a JWT clientAuthLocation without a signer,
// or a signer with a secret location, is refused before anything is sent,
// by Validate and by the request itself.
func TestClientAssertionMismatch(t *testing.T) {
	assertionKeys(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	key, _ := jwtgrant.ParsePrivateKey([]byte(privatePEM(t, assertEd)), "")
	signer, _ := PrivateKeyJWT("c", key, "")
	cases := map[string]Config{
		"private_key_jwt without signer":   {ClientAuthLocation: AuthPrivateKeyJWT},
		"client_secret_jwt without signer": {ClientAuthLocation: AuthClientSecretJWT, ClientSecret: "s"},
		"signer with body location":        {ClientAuthLocation: AuthInBody, ClientAssertion: signer},
		"signer with default location":     {ClientAssertion: signer},
	}
	for name, cfg := range cases {
		cfg.ClientID, cfg.TokenURI, cfg.GrantType = "c", srv.URL, GrantClientCredentials
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		if _, err := cfg.ClientCredentials(context.Background(), srv.Client()); err == nil || !strings.Contains(err.Error(), "client assertion signer") {
			t.Errorf("%s: err = %v, want a refusal naming the client assertion signer", name, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests sent", hits.Load())
	}

	if _, err := PrivateKeyJWT("", key, ""); err == nil {
		t.Error("PrivateKeyJWT without client id")
	}
	hmac, _ := jwtgrant.NewHMACKey([]byte(strings.Repeat("k", 32)), "")
	if _, err := PrivateKeyJWT("c", hmac, ""); err == nil {
		t.Error("PrivateKeyJWT accepted an HMAC key")
	}
	if _, err := ClientSecretJWT("c", "short-canary", "", ""); err == nil || strings.Contains(err.Error(), "short-canary") {
		t.Errorf("short client_secret_jwt secret: err = %v", err)
	}
}

// TestClientAssertionFromMap: getOAuthConfig results choose JWT client
// authentication by clientAuthLocation; the key and secret never appear in
// an error.
func TestClientAssertionFromMap(t *testing.T) {
	assertionKeys(t)
	pemKey := privatePEM(t, assertRSA)
	srv := newAssertionServer(t, &assertRSA.PublicKey, "PS256", "cid", "cid")
	srv.aud = "https://issuer.example"
	c, err := ConfigFromMap(map[string]any{"clientId": "cid", "tokenUri": srv.URL + "/token", "grantType": "client_credentials",
		"clientAuthLocation": "private_key_jwt", "clientPrivateKey": pemKey, "clientKeyId": "k1", "clientAssertionAlg": "PS256",
		"clientAssertionAudience": "https://issuer.example"})
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return testNow }
	if _, err := c.ClientCredentials(context.Background(), srv.Client()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, h := srv.last(); h["kid"] != "k1" {
		t.Errorf("kid = %v", h["kid"])
	}

	const canary = "canary-secret-value"
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"clientId": "cid", "clientSecret": canary, "tokenUri": "https://as.example/token", "grantType": "client_credentials"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := map[string]struct {
		m    map[string]any
		want string
	}{
		"no private key":        {base(map[string]any{"clientAuthLocation": "private_key_jwt"}), "needs clientPrivateKey"},
		"private key not PEM":   {base(map[string]any{"clientAuthLocation": "private_key_jwt", "clientPrivateKey": canary}), "clientPrivateKey"},
		"alg does not fit key":  {base(map[string]any{"clientAuthLocation": "private_key_jwt", "clientPrivateKey": pemKey, "clientAssertionAlg": "ES256"}), "ES256 cannot sign"},
		"short secret":          {base(map[string]any{"clientAuthLocation": "client_secret_jwt"}), "at least 32 bytes"},
		"unknown location":      {base(map[string]any{"clientAuthLocation": "tls_client_authx"}), "clientAuthLocation must be one of"},
		"key not a string":      {base(map[string]any{"clientAuthLocation": "private_key_jwt", "clientPrivateKey": map[string]any{"k": canary}}), "clientPrivateKey"},
		"no client id with jwt": {map[string]any{"tokenUri": "https://as.example/token", "grantType": "client_credentials", "clientAuthLocation": "private_key_jwt", "clientPrivateKey": pemKey}, "needs a clientId"},
	}
	for name, tc := range cases {
		_, err := ConfigFromMap(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "MII") {
			t.Errorf("%s: err = %q shows a secret", name, err)
		}
	}
}

// TestClientAssertionNotInErrors: a token endpoint that echoes the request
// back in its error gets neither the client assertion nor the client
// secret it was MACed with into the error.
func TestClientAssertionNotInErrors(t *testing.T) {
	const secret = "canary-client-secret-0123456789abcdef"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "got " + string(b) + " " + r.Header.Get("Authorization")})
	}))
	defer echo.Close()
	signer, err := ClientSecretJWT("cid", secret, "HS256", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ClientID: "cid", ClientSecret: secret, ClientAuthLocation: AuthClientSecretJWT, ClientAssertion: signer,
		TokenURI: echo.URL, GrantType: GrantClientCredentials, Now: func() time.Time { return testNow }}
	_, err = cfg.ClientCredentials(context.Background(), echo.Client())
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{secret, "eyJ", "canary"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
	if !strings.Contains(err.Error(), "client_assertion_type=urn") {
		t.Errorf("error %q lost the public part of the echo", err)
	}
}
