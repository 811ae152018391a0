package engine

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connspec/connspec/engine/oauth2"
)

// jwtTestRSA is one RSA key for the whole test binary (generating one is slow
// under -race); its PEM doubles as a canary.
var jwtTestRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs8PEM(t testing.TB, k crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// jwtTokenServer is a loopback token endpoint that checks every assertion
// on its own (signature with the public key, alg, iss, sub, aud, scope,
// exp - iat against the lifetime) and an API that wants its latest token.
type jwtTokenServer struct {
	t                              *testing.T
	pub                            crypto.PublicKey
	alg, iss, sub, aud, scope, kid string
	lifetime                       time.Duration
	expiresIn                      int
	tokens                         atomic.Int64
	mu                             sync.Mutex
	failures                       []string
	srv                            *httptest.Server
	respond                        func(w http.ResponseWriter) bool // optional override
	apiCalls                       atomic.Int64
}

func (s *jwtTokenServer) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func (s *jwtTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		s.apiCalls.Add(1)
		want := fmt.Sprintf("Bearer at-%d", s.tokens.Load())
		if got := r.Header.Get("Authorization"); got != want {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"got %q"}`, got)
			return
		}
		w.Write([]byte(`{"ok":true}`))
		return
	}
	if s.respond != nil && s.respond(w) {
		return
	}
	r.ParseForm()
	if g := r.PostForm.Get("grant_type"); g != oauth2.GrantJWTBearer {
		s.fail("grant_type %q", g)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(tok *jwt.Token) (any, error) {
		return s.pub, nil
	}, jwt.WithValidMethods([]string{s.alg}), jwt.WithoutClaimsValidation())
	if err != nil {
		s.fail("assertion does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	if s.kid != "" && tok.Header["kid"] != s.kid {
		s.fail("kid %v, want %s", tok.Header["kid"], s.kid)
	}
	for name, want := range map[string]string{"iss": s.iss, "sub": s.sub, "aud": s.aud, "scope": s.scope} {
		got, _ := claims[name].(string)
		if got != want {
			s.fail("claim %s = %q, want %q", name, got, want)
		}
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if d := time.Duration(exp-iat) * time.Second; d <= 0 || d > s.lifetime {
		s.fail("exp - iat = %v, want (0, %v]", d, s.lifetime)
	}
	n := s.tokens.Add(1)
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":%d}`, n, s.expiresIn)
}

func (s *jwtTokenServer) check() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		s.t.Error("token endpoint: " + f)
	}
}

func newJWTTokenServer(t *testing.T) *jwtTokenServer {
	s := &jwtTokenServer{t: t, pub: jwtTestRSA().Public(), alg: "RS256", iss: "svc@example.com", sub: "ada@example.com",
		scope: "a.read b.write", lifetime: 120 * time.Second, expiresIn: 3600}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	s.aud = s.srv.URL + "/token"
	return s
}

// jwtConnector has a key from the connection input and claims written out.
const jwtConnector = `name: J
key: c
auth:
  type: jwt-bearer
  ui:
    schema:
      type: object
      properties:
        privateKey: {type: string, format: password}
        subject: {type: string}
  getJwtBearerConfig:
    mapping:
      tokenUri: {{URL}}/token
      issuer: svc@example.com
      subject: {$var: connectionInput.subject}
      scopes: [a.read, b.write]
      privateKey: {$var: connectionInput.privateKey}
      lifetime: 120
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

// jwtConnectorJS is a connector whose getJwtBearerConfig is JavaScript
// returning result.
func jwtConnectorJS(result string) string {
	return `name: J
key: c
auth:
  type: jwt-bearer
  ui:
    schema:
      type: object
      properties:
        privateKey: {type: string, format: password}
        tokenUri: {type: string}
  getJwtBearerConfig:
    implementationType: javascript
    code: |
      export default ({connectionInput}) => ` + result + `
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
`
}

// jwtClock is a settable clock for an engine.
type jwtClock struct{ ns atomic.Int64 }

func newJWTClock() *jwtClock {
	c := &jwtClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *jwtClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *jwtClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// TestJWTBearerEndToEnd: the first call fetches a token with a verified
// assertion, later calls reuse it, and it is renewed (a new assertion) a
// margin before it expires, not after.
func TestJWTBearerEndToEnd(t *testing.T) {
	ts := newJWTTokenServer(t)
	e := newEngine(t, ts.srv, jwtConnector)
	clock := newJWTClock()
	e.now = clock.now
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"privateKey": pkcs8PEM(t, jwtTestRSA()), "subject": ts.sub}})
	if n := ts.tokens.Load(); n != 0 {
		t.Errorf("%d token requests before the first call, want 0", n)
	}
	for range 3 {
		if got := get(t, cl, "/me"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
	}
	if n := ts.tokens.Load(); n != 1 {
		t.Errorf("%d token requests for 3 calls, want 1", n)
	}
	clock.add(3600*time.Second - 90*time.Second) // outside the 60s margin
	get(t, cl, "/me")
	if n := ts.tokens.Load(); n != 1 {
		t.Errorf("renewed %d-1 times 90s before expiry, want none", n)
	}
	clock.add(60 * time.Second) // 30s before expiry: inside the margin
	if got := get(t, cl, "/me"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	if n := ts.tokens.Load(); n != 2 {
		t.Errorf("%d token requests after the margin was reached, want 2", n)
	}
	if at := cl.Credentials()["access_token"]; at != "at-2" {
		t.Errorf("credentials hold %v, want at-2", at)
	}
	ts.check()
}

// TestJWTBearerAlgorithms: an EC key signs ES256 by default, an RSA key
// PS256 when asked; the endpoint verifies each with the public key.
func TestJWTBearerAlgorithms(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		alg, algKey string
		priv        crypto.Signer
	}{{"ES256", "", ec}, {"PS256", "PS256", jwtTestRSA()}, {"RS384", "RS384", jwtTestRSA()}} {
		t.Run(c.alg, func(t *testing.T) {
			ts := newJWTTokenServer(t)
			ts.alg, ts.pub, ts.kid = c.alg, c.priv.Public(), "k-7"
			src := strings.Replace(jwtConnector, "      lifetime: 120\n", "      lifetime: 120\n      keyId: k-7\n      algorithm: \""+c.algKey+"\"\n", 1)
			cl := mustClient(t, newEngine(t, ts.srv, src), Connection{ConnectionParameters: map[string]any{"privateKey": pkcs8PEM(t, c.priv), "subject": ts.sub}})
			if got := get(t, cl, "/me"); got["ok"] != true {
				t.Fatalf("got %v", got)
			}
			ts.check()
		})
	}
}

// TestJWTBearerStorm: 20 concurrent requests on an expired token across two
// engines sharing one SQLite store make exactly one token request.
func TestJWTBearerStorm(t *testing.T) {
	ts := newJWTTokenServer(t)
	stores := faultSQLiteStores(t, 2)
	clock := newJWTClock()
	conn := Connection{ID: "jwt-1", ConnectionParameters: map[string]any{"privateKey": pkcs8PEM(t, jwtTestRSA()), "subject": ts.sub}}
	var clients []*Client
	for _, s := range stores {
		e := newEngine(t, ts.srv, jwtConnector, WithStore(s))
		e.now = clock.now
		clients = append(clients, mustClient(t, e, conn))
	}
	get(t, clients[0], "/me") // the first token, stored
	clock.add(2 * time.Hour)  // expired
	ts.tokens.Store(1)
	getConcurrently(t, clients, 20, "/me", "map[ok:true]")
	if n := ts.tokens.Load(); n != 2 {
		t.Errorf("%d token requests for 20 concurrent calls on an expired token across two engines, want 1 after the first", n-1)
	}
	rec, err := stores[1].Get(context.Background(), "jwt-1")
	if err != nil || rec.Credentials["access_token"] != "at-2" {
		t.Errorf("the store holds %v (%v), want at-2", rec.Credentials["access_token"], err)
	}
	ts.check()
}

// recordingTransport sends every request to one loopback server, whatever
// its URL's host, and records the hosts asked for.
type recordingTransport struct {
	target *url.URL
	mu     sync.Mutex
	hosts  []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.hosts = append(rt.hosts, r.URL.Host)
	rt.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host = rt.target.Scheme, rt.target.Host
	return http.DefaultTransport.RoundTrip(r2)
}

func (rt *recordingTransport) sent() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.hosts...)
}

// saConnector takes a pasted service-account key file; the author allows
// Google's token endpoint only.
const saConnector = `name: S
key: c
auth:
  type: jwt-bearer
  allowedHosts: [oauth2.googleapis.com]
  ui:
    schema:
      type: object
      properties:
        keyFile: {type: string, format: password}
  getJwtBearerConfig:
    mapping:
      serviceAccountKey: {$var: connectionInput.keyFile}
      scopes: [https://www.googleapis.com/auth/cloud-platform]
  makeApiClient:
    mapping:
      baseUri: https://www.googleapis.com
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

func keyFile(t testing.TB, tokenURI string) string {
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p-1", "private_key_id": "kid-sa-1",
		"private_key": pkcs8PEM(t, jwtTestRSA()), "client_email": "svc@p-1.iam.gserviceaccount.com", "token_uri": tokenURI,
	})
	return string(b)
}

// TestJWTBearerServiceAccount: a pasted key file gives issuer, key, kid and
// token endpoint; Google's endpoint (an allowed host) gets the assertion.
func TestJWTBearerServiceAccount(t *testing.T) {
	ts := newJWTTokenServer(t)
	ts.iss, ts.sub, ts.kid = "svc@p-1.iam.gserviceaccount.com", "", "kid-sa-1"
	ts.aud, ts.scope = "https://oauth2.googleapis.com/token", "https://www.googleapis.com/auth/cloud-platform"
	ts.lifetime = 5 * time.Minute
	target, _ := url.Parse(ts.srv.URL)
	rt := &recordingTransport{target: target}
	cl := mustClient(t, newEngine(t, nil, saConnector, WithTransport(rt)), Connection{ConnectionParameters: map[string]any{"keyFile": keyFile(t, "https://oauth2.googleapis.com/token")}})
	if got := get(t, cl, "/me"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	if got := strings.Join(rt.sent(), " "); got != "oauth2.googleapis.com www.googleapis.com" {
		t.Errorf("requests went to %s", got)
	}
	ts.check()
}

// TestJWTBearerTokenHostIsTheAuthors: a token endpoint the user supplied
// (a pasted key file's token_uri, or a typed tokenUri) must be on a host
// the author wrote; otherwise the signed assertion is not sent anywhere.
func TestJWTBearerTokenHostIsTheAuthors(t *testing.T) {
	ts := newJWTTokenServer(t)
	target, _ := url.Parse(ts.srv.URL)
	for _, uri := range []string{
		"https://evil.example.com/token",
		"https://oauth2.googleapis.com.evil.example.com/token",
		"https://evil.googleapis.com/token",
		"https://oauth2.googleapis.com:8443/token",
		"https://127.0.0.1/token",
	} {
		t.Run(uri, func(t *testing.T) {
			rt := &recordingTransport{target: target}
			_, err := newEngine(t, nil, saConnector, WithTransport(rt)).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"keyFile": keyFile(t, uri)}})
			var he *HostError
			if !errors.As(err, &he) || he.Field != "serviceAccountKey.token_uri" {
				t.Fatalf("want a HostError for serviceAccountKey.token_uri, got %v", err)
			}
			if sent := rt.sent(); len(sent) != 0 {
				t.Errorf("requests were sent to %v", sent)
			}
		})
	}
	t.Run("typed tokenUri", func(t *testing.T) {
		// A mapping that does this is refused at load (validate's probe);
		// JavaScript is held to the rule when it runs.
		src := jwtConnectorJS(`({tokenUri: connectionInput.tokenUri, issuer: "i", privateKey: connectionInput.privateKey})`)
		_, err := newEngine(t, ts.srv, src).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{
			"privateKey": pkcs8PEM(t, jwtTestRSA()), "tokenUri": "https://evil.example.com/token"}})
		var he *HostError
		if !errors.As(err, &he) || he.Field != "tokenUri" {
			t.Fatalf("want a HostError for tokenUri, got %v", err)
		}
		if n := ts.tokens.Load(); n != 0 {
			t.Errorf("%d token requests", n)
		}
	})
}

// TestJWTBearerConfigRefused: a configuration the grant cannot use as
// written is an error naming the key, at connect time, never a token
// request with part of it dropped.
func TestJWTBearerConfigRefused(t *testing.T) {
	ts := newJWTTokenServer(t)
	pemKey := pkcs8PEM(t, jwtTestRSA())
	for name, c := range map[string]struct{ edit, want string }{
		"unknown key":                {"      lifetime: 120\n      subjet: x\n", `getJwtBearerConfig result has no key "subjet"`},
		"lifetime over 1h":           {"      lifetime: 7200\n", "longer than"},
		"lifetime zero":              {"      lifetime: 0\n", "at least 1 second"},
		"wrong algorithm":            {"      lifetime: 120\n      algorithm: ES256\n", "cannot sign with this RSA key"},
		"unknown algorithm":          {"      lifetime: 120\n      algorithm: HS256\n", `unsupported signing algorithm "HS256"`},
		"grant in tokenParams":       {"      lifetime: 120\n      tokenParams: {assertion: x}\n", "tokenParams cannot set assertion"},
		"key file beside privateKey": {"      lifetime: 120\n      serviceAccountKey: '{}'\n", "cannot be set beside serviceAccountKey"},
	} {
		t.Run(name, func(t *testing.T) {
			src := strings.ReplaceAll(strings.Replace(jwtConnector, "      lifetime: 120\n", c.edit, 1), "{{URL}}", ts.srv.URL)
			e := New()
			if _, diags := e.LoadFS(fsOf(src), "c.yml"); diags.HasErrors() {
				// Refused at load: a literal mapping's unknown key.
				if !strings.Contains(diags.Error(), c.want) {
					t.Errorf("load: %v, want %q", diags, c.want)
				}
				return
			}
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"privateKey": pemKey}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("the error shows the key: %v", err)
			}
			if n := ts.tokens.Load(); n != 0 {
				t.Errorf("%d token requests", n)
			}
		})
	}
	// A JavaScript method's unknown key is refused when it runs.
	js := jwtConnectorJS(`({tokenUri: "{{URL}}/token", issuer: "i", privateKey: connectionInput.privateKey, subjet: "x"})`)
	_, err := newEngine(t, ts.srv, js).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"privateKey": pemKey}})
	if err == nil || !strings.Contains(err.Error(), `no key "subjet"`) {
		t.Errorf("javascript result with an unknown key: %v", err)
	}
}

func fsOf(src string) fstest.MapFS { return fstest.MapFS{"c.yml": {Data: []byte(src)}} }

// TestJWTBearerKeyNeverShown: the private key (a canary) appears in no
// error, log line or redacted text, whatever fails: the provider refusing
// the assertion, the provider echoing the key file, the API refusing the
// token.
func TestJWTBearerKeyNeverShown(t *testing.T) {
	pemKey := pkcs8PEM(t, jwtTestRSA())
	file := keyFile(t, "https://oauth2.googleapis.com/token")
	body := strings.Split(strings.TrimSpace(pemKey), "\n")[3] // a line from inside the key
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The key never leaves the machine: a provider can only echo what it
	// got, the assertion.
	for name, respond := range map[string]string{
		"invalid_grant": `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`,
		"echo":          `{"error":"invalid_request","error_description":"bad assertion"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newJWTTokenServer(t)
			ts.respond = func(w http.ResponseWriter) bool {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(respond))
				return true
			}
			target, _ := url.Parse(ts.srv.URL)
			e := newEngine(t, nil, saConnector, WithTransport(&recordingTransport{target: target}), WithLogger(logger))
			cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"keyFile": file}})
			_, err := cl.Get(context.Background(), "/me")
			if err == nil {
				t.Fatal("no error")
			}
			for where, out := range map[string]string{"error": err.Error(), "Redact": cl.Redact("key " + pemKey + " file " + file), "log": logs.String()} {
				for i, secret := range []string{body, pemKey, file} {
					if strings.Contains(out, secret) {
						t.Errorf("secret %d shows in the %s", i, where)
					}
				}
			}
			if name == "invalid_grant" {
				var ce *ConnectionError
				if !errors.As(err, &ce) || ce.Key != KeyConnectionIsDefunct || !strings.Contains(ce.Message, "signed assertion") {
					t.Errorf("want a defunct connection naming the assertion, got %v", err)
				}
			}
		})
	}
}
