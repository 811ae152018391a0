package engine

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connspec/connspec/engine/oauth2"
)

// assertionTokenServer is a loopback OAuth 2.0 provider whose token
// endpoint authenticates the client only by a client assertion (RFC 7523
// section 2.2), checked on its own for every request: the signature with
// the public key (or the shared secret) and only the expected alg,
// client_assertion_type, iss = sub = client_id, aud, a lifetime of at most
// two minutes that has not ended, and a jti never seen before. No client
// secret may travel beside it. Its API wants the latest access token.
type assertionTokenServer struct {
	t        *testing.T
	srv      *httptest.Server
	verify   any // public key, or []byte for HMAC
	alg      string
	clientID string
	aud      string // "" means the token URL
	kid      string
	// expiresIn is the access tokens' lifetime.
	expiresIn int
	// now is the server's clock, the engine's in tests that move it.
	now func() time.Time

	mu       sync.Mutex
	failures []string
	jtis     map[string]bool
	grants   []string
	tokens   atomic.Int64
}

func newAssertionTokenServer(t *testing.T, verify any, alg string) *assertionTokenServer {
	s := &assertionTokenServer{t: t, verify: verify, alg: alg, clientID: "client-7", expiresIn: 3600, jtis: map[string]bool{}, now: time.Now}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *assertionTokenServer) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func (s *assertionTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		if got, want := r.Header.Get("Authorization"), fmt.Sprintf("Bearer at-%d", s.tokens.Load()); got != want {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
		return
	}
	r.ParseForm()
	grant := r.PostForm.Get("grant_type")
	s.mu.Lock()
	s.grants = append(s.grants, grant)
	s.mu.Unlock()
	if err := s.checkClient(r); err != nil {
		s.fail("%s request: %v", grant, err)
		s.t.Logf("token endpoint refused the client: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	n := s.tokens.Add(1)
	fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-%d","token_type":"Bearer","expires_in":%d}`, n, n, s.expiresIn)
}

// checkClient authenticates the client of one token request.
func (s *assertionTokenServer) checkClient(r *http.Request) error {
	f := r.PostForm
	if _, _, ok := r.BasicAuth(); ok || f.Has("client_secret") {
		return fmt.Errorf("a client secret was sent beside the assertion")
	}
	if got := f.Get("client_assertion_type"); got != oauth2.ClientAssertionType {
		return fmt.Errorf("client_assertion_type %q", got)
	}
	if got := f.Get("client_id"); got != s.clientID {
		return fmt.Errorf("client_id %q", got)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(f.Get("client_assertion"), claims, func(*jwt.Token) (any, error) { return s.verify, nil },
		jwt.WithValidMethods([]string{s.alg}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(s.now))
	if err != nil {
		return fmt.Errorf("assertion does not verify: %v", err)
	}
	if s.kid != "" && tok.Header["kid"] != s.kid {
		return fmt.Errorf("kid %v, want %s", tok.Header["kid"], s.kid)
	}
	aud := s.aud
	if aud == "" {
		aud = s.srv.URL + "/token"
	}
	auds, _ := claims.GetAudience()
	if len(auds) != 1 || auds[0] != aud {
		return fmt.Errorf("aud %v, want %s", auds, aud)
	}
	for name, want := range map[string]string{"iss": s.clientID, "sub": s.clientID} {
		if got, _ := claims[name].(string); got != want {
			return fmt.Errorf("claim %s = %q, want %q", name, got, want)
		}
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if d := time.Duration(exp-iat) * time.Second; d <= 0 || d > 2*time.Minute {
		return fmt.Errorf("exp - iat = %v, want (0, 2m]", d)
	}
	jti, _ := claims["jti"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if jti == "" || s.jtis[jti] {
		return fmt.Errorf("jti %q is empty or was used before", jti)
	}
	s.jtis[jti] = true
	return nil
}

func (s *assertionTokenServer) check(wantGrants ...string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		s.t.Error("token endpoint: " + f)
	}
	if got := strings.Join(s.grants, ","); got != strings.Join(wantGrants, ",") {
		s.t.Errorf("token requests %s, want %s", got, strings.Join(wantGrants, ","))
	}
}

// assertionConnector is an oauth2 connector authenticating by assertion,
// its key a secret connector parameter; extra is added to getOAuthConfig.
func assertionConnector(s *assertionTokenServer, extra string) string {
	return strings.NewReplacer("{{URL}}", s.srv.URL, "{{EXTRA}}", extra).Replace(`name: C
key: c
parametersSchema:
  type: object
  properties:
    clientId: {type: string}
    clientSecret: {type: string, format: password}
    signingKey: {type: string, x-connspec-secret: true}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
{{EXTRA}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`)
}

const privateKeyJWT = `      clientAuthLocation: private_key_jwt
      clientPrivateKey: {$var: connectorParameters.signingKey}
`

// authorizeByCallback runs the authorization code flow, standing in for
// the user's browser at the callback.
func authorizeByCallback(t *testing.T, e *Engine, conn Connection) map[string]any {
	t.Helper()
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		t.Fatalf("AuthorizationURL: %v", err)
	}
	creds, err := e.CompleteAuthorization(ctx, conn, url.Values{"code": {"code-1"}, "state": {req.State}}, redirectURI, req.State, req.Verifier)
	if err != nil {
		t.Fatalf("CompleteAuthorization: %v", err)
	}
	return creds
}

// TestClientAssertionEveryTokenRequest: with private_key_jwt, the code
// exchange and every refresh authenticate the client with a fresh
// assertion the provider verifies with the public key; no secret is sent.
func TestClientAssertionEveryTokenRequest(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, alg, extra string
		priv             crypto.Signer
		aud, kid         string
	}{
		{name: "RS256 by default", alg: "RS256", priv: jwtTestRSA()},
		{name: "PS256 with kid", alg: "PS256", priv: jwtTestRSA(), kid: "k-9", extra: "      clientAssertionAlg: PS256\n      clientKeyId: k-9\n"},
		{name: "ES256 to the issuer", alg: "ES256", priv: ec, aud: "https://issuer.example", extra: "      clientAssertionAudience: https://issuer.example\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newAssertionTokenServer(t, c.priv.Public(), c.alg)
			ts.aud, ts.kid = c.aud, c.kid
			e := newEngine(t, nil, assertionConnector(ts, privateKeyJWT+c.extra))
			clock := newJWTClock()
			e.now, ts.now = clock.now, clock.now
			conn := Connection{Connector: "c", ConnectorParameters: map[string]any{"clientId": ts.clientID, "signingKey": pkcs8PEM(t, c.priv)}}
			conn.Credentials = authorizeByCallback(t, e, conn)
			cl := mustClient(t, e, conn)
			for range 2 {
				clock.add(2 * time.Hour) // past expiry: a refresh
				if got := get(t, cl, "/me"); got["ok"] != true {
					t.Fatalf("got %v", got)
				}
			}
			ts.check("authorization_code", "refresh_token", "refresh_token")
		})
	}
}

// TestClientAssertionClientCredentials: the client_credentials grant
// authenticates by assertion too, private_key_jwt and client_secret_jwt
// (HS256, MACed with the client secret, which is never sent).
func TestClientAssertionClientCredentials(t *testing.T) {
	secret := "canary-shared-secret-0123456789abcdef"
	for _, c := range []struct {
		name, alg, extra string
		verify           any
		params           map[string]any
	}{
		{"private_key_jwt", "RS256", privateKeyJWT, jwtTestRSA().Public(), map[string]any{"signingKey": pkcs8PEM(t, jwtTestRSA())}},
		{"client_secret_jwt", "HS256", "      clientAuthLocation: client_secret_jwt\n      clientSecret: {$var: connectorParameters.clientSecret}\n",
			[]byte(secret), map[string]any{"clientSecret": secret}},
		{"client_secret_jwt HS512", "HS512", "      clientAuthLocation: client_secret_jwt\n      clientAssertionAlg: HS512\n      clientSecret: {$var: connectorParameters.clientSecret}\n",
			[]byte(secret + secret), map[string]any{"clientSecret": secret + secret}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newAssertionTokenServer(t, c.verify, c.alg)
			e := newEngine(t, nil, assertionConnector(ts, "      grantType: client_credentials\n"+c.extra))
			clock := newJWTClock()
			e.now, ts.now = clock.now, clock.now
			c.params["clientId"] = ts.clientID
			cl := mustClient(t, e, Connection{Connector: "c", ConnectorParameters: c.params})
			get(t, cl, "/me")
			clock.add(2 * time.Hour)
			if got := get(t, cl, "/me"); got["ok"] != true {
				t.Fatalf("got %v", got)
			}
			ts.check("client_credentials", "client_credentials")
		})
	}
}

// TestClientAssertionConfigRefused: a key that cannot sign as asked, or a
// key its location would leave unused, is an error naming the key when the
// client is made, with no token request and without the key's text.
func TestClientAssertionConfigRefused(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPEM := pkcs8PEM(t, jwtTestRSA())
	for name, c := range map[string]struct {
		extra, key, want string
	}{
		"malformed key":             {privateKeyJWT, "-----BEGIN PRIVATE KEY-----\ncanary-not-base64\n-----END PRIVATE KEY-----\n", "clientPrivateKey"},
		"no key":                    {"      clientAuthLocation: private_key_jwt\n", "", "needs clientPrivateKey"},
		"RSA key, ES256":            {privateKeyJWT + "      clientAssertionAlg: ES256\n", rsaPEM, "cannot sign with this RSA key"},
		"EC key, RS256":             {privateKeyJWT + "      clientAssertionAlg: RS256\n", pkcs8PEM(t, ec), "clientPrivateKey"},
		"HMAC alg, a key":           {privateKeyJWT + "      clientAssertionAlg: HS256\n", rsaPEM, "clientPrivateKey"},
		"unknown location":          {"      clientAuthLocation: {$var: connectorParameters.clientId}\n", rsaPEM, "clientAuthLocation must be one of"},
		"key beside body (formula)": {"      clientAuthLocation: {$concat: [bo, dy]}\n      clientPrivateKey: {$var: connectorParameters.signingKey}\n", rsaPEM, "clientPrivateKey is only used with clientAuthLocation private_key_jwt, not body"},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newAssertionTokenServer(t, jwtTestRSA().Public(), "RS256")
			e := newEngine(t, nil, assertionConnector(ts, "      grantType: client_credentials\n"+c.extra))
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectorParameters: map[string]any{"clientId": ts.clientID, "signingKey": c.key}})
			if err == nil {
				cl := mustClient(t, e, Connection{Connector: "c", ConnectorParameters: map[string]any{"clientId": ts.clientID, "signingKey": c.key}})
				_, err = cl.Get(context.Background(), "/me")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if c.key != "" && strings.Contains(err.Error(), strings.Split(strings.TrimSpace(c.key), "\n")[1]) {
				t.Errorf("the error shows the key: %v", err)
			}
			if n := ts.tokens.Load(); n != 0 {
				t.Errorf("%d tokens issued", n)
			}
		})
	}
}

// TestClientAssertionKeyNeverShown: the private key (a canary) appears in
// no error or log line when the provider refuses the client, whatever it
// echoes.
func TestClientAssertionKeyNeverShown(t *testing.T) {
	pemKey := pkcs8PEM(t, jwtTestRSA())
	inner := strings.Split(strings.TrimSpace(pemKey), "\n")[3]
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newAssertionTokenServer(t, jwtTestRSA().Public(), "ES256") // refuses every assertion
	e := newEngine(t, nil, assertionConnector(ts, "      grantType: client_credentials\n"+privateKeyJWT), WithLogger(logger))
	cl := mustClient(t, e, Connection{Connector: "c", ConnectorParameters: map[string]any{"clientId": ts.clientID, "signingKey": pemKey}})
	_, err := cl.Get(context.Background(), "/me")
	if err == nil {
		t.Fatal("no error")
	}
	for where, out := range map[string]string{"error": err.Error(), "log": logs.String(), "Redact": cl.Redact("key " + pemKey)} {
		for _, secret := range []string{pemKey, inner} {
			if strings.Contains(out, secret) {
				t.Errorf("the key shows in the %s", where)
			}
		}
	}
}
