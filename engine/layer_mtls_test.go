package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/mtls"
)

// mtlsCA is a test certificate authority issuing client certificates.
type mtlsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newMTLSCA(t testing.TB, name string) *mtlsCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &mtlsCA{cert: cert, key: key, pool: pool}
}

var mtlsSerial atomic.Int64

// issue returns a PEM client certificate for cn valid from notBefore to
// notAfter, and its PEM PKCS #8 key.
func (ca *mtlsCA) issue(t testing.TB, cn string, notBefore, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100 + mtlsSerial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), pkcs8PEM(t, key)
}

func (ca *mtlsCA) valid(t testing.TB, cn string) (string, string) {
	return ca.issue(t, cn, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
}

// newMTLSServer starts a loopback TLS server that requires a client
// certificate issued by ca.
func newMTLSServer(t testing.TB, ca *mtlsCA, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// mtlsEngine returns an engine whose transport trusts srv's certificate
// (an *http.Transport, as the engine's default is).
func mtlsEngine(t testing.TB, srv *httptest.Server, src string, opts ...Option) *Engine {
	t.Helper()
	base := srv.Client().Transport.(*http.Transport).Clone()
	return newEngine(t, srv, src, append([]Option{WithTransport(base)}, opts...)...)
}

// peerCN answers with the common name of the client certificate presented.
func peerCN(w http.ResponseWriter, r *http.Request) {
	cn := ""
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cn = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	json.NewEncoder(w).Encode(map[string]any{"cn": cn, "key": r.Header.Get("X-Api-Key")})
}

// mtlsAPIKey is an API-key connector behind mTLS: the certificate comes
// from the connection input or, when the input has none, the connector
// parameters (a team-wide certificate).
const mtlsAPIKey = `name: M
key: c
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        apiKey: {type: string}
        cert: {type: string}
        key: {type: string, format: password}
  getClientCertificate:
    mapping:
      certificate: {$var: connectionInput.cert}
      privateKey: {$var: connectionInput.key}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        X-Api-Key: {$var: credentials.apiKey}
`

const mtlsAPIKeyTeam = `name: M
key: c
parametersSchema:
  type: object
  properties:
    cert: {type: string}
    key: {type: string}
auth:
  getClientCertificate:
    mapping:
      certificate: {$var: connectorParameters.cert}
      privateKey: {$var: connectorParameters.key}
  options:
    key:
      type: client-credentials
      title: API key
      makeApiClient:
        mapping:
          baseUri: {{URL}}
          headers:
            X-Api-Key: {$var: credentials.apiKey}
`

// TestMTLSAPIKeyConnector: an API-key API behind mutual TLS, the
// certificate per connection (connection input) or team-wide (connector
// parameters, inherited by an option): every request presents it.
func TestMTLSAPIKeyConnector(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	certPEM, keyPEM := ca.valid(t, "conn-1")
	for name, c := range map[string]struct {
		src  string
		conn Connection
	}{
		"connection input": {mtlsAPIKey, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": certPEM, "key": keyPEM}}},
		"connector parameters, option inherits": {mtlsAPIKeyTeam, Connection{
			Option: "key", ConnectorParameters: map[string]any{"cert": certPEM, "key": keyPEM}, Credentials: map[string]any{"apiKey": "sk_1"}}},
	} {
		t.Run(name, func(t *testing.T) {
			cl := mustClient(t, mtlsEngine(t, srv, c.src), c.conn)
			for range 2 {
				if got := get(t, cl, "/me"); got["cn"] != "conn-1" || got["key"] != "sk_1" {
					t.Fatalf("the server saw %v", got)
				}
			}
		})
	}
}

// TestMTLSServerRefusesCertificate: a server that refuses the connection's
// certificate (none, or one from another CA) is a clear error, without the
// key in it.
func TestMTLSServerRefusesCertificate(t *testing.T) {
	ca, other := newMTLSCA(t, "test CA"), newMTLSCA(t, "other CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	otherCert, otherKey := other.valid(t, "stranger")
	t.Run("no getClientCertificate", func(t *testing.T) {
		cl := mustClient(t, mtlsEngine(t, srv, apiKeyHeaderNoPattern), Connection{Credentials: map[string]any{"apiKey": "sk_1"}})
		if _, err := cl.Get(context.Background(), "/me"); err == nil || !strings.Contains(err.Error(), "tls") {
			t.Fatalf("got %v, want a TLS error", err)
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		cl := mustClient(t, mtlsEngine(t, srv, mtlsAPIKey), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": otherCert, "key": otherKey}})
		_, err := cl.Get(context.Background(), "/me")
		if err == nil || !strings.Contains(err.Error(), "tls") {
			t.Fatalf("got %v, want a TLS error", err)
		}
		assertNoPEM(t, err.Error(), otherKey)
	})
}

const apiKeyHeaderNoPattern = `name: C
key: c
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        X-Api-Key: {$var: credentials.apiKey}
`

// assertNoPEM fails when text shows the key or any line of its body.
func assertNoPEM(t *testing.T, text, keyPEM string) {
	t.Helper()
	if strings.Contains(text, "PRIVATE KEY") {
		t.Errorf("the text shows a PEM key: %s", text)
	}
	for _, line := range strings.Split(keyPEM, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
			t.Errorf("the text shows a line of the key: %s", text)
		}
	}
}

// TestMTLSUnusableCertificate: an expired, not yet valid, malformed or
// mismatched certificate and key, or a result with a misspelt key, is
// refused when the client is made, by an error naming
// getClientCertificate that quotes neither PEM; nothing is sent.
func TestMTLSUnusableCertificate(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	var requests atomic.Int64
	srv := newMTLSServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); peerCN(w, r) }))
	good, goodKey := ca.valid(t, "good")
	_, otherKey := ca.valid(t, "other")
	expired, expiredKey := ca.issue(t, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	future, futureKey := ca.issue(t, "new", time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour))
	canaryKey := "-----BEGIN PRIVATE KEY-----\ncanaryAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n"
	for name, c := range map[string]struct{ cert, key, want string }{
		"expired":          {expired, expiredKey, "expired at"},
		"not yet valid":    {future, futureKey, "not valid before"},
		"mismatched key":   {good, otherKey, "private key does not match public key"},
		"malformed key":    {good, canaryKey, "getClientCertificate"},
		"malformed cert":   {"-----BEGIN CERTIFICATE-----\ncanaryBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n-----END CERTIFICATE-----\n", goodKey, "getClientCertificate"},
		"key, no cert":     {"", goodKey, "certificate is empty"},
		"cert, no key":     {good, "", "privateKey is empty"},
		"key in cert slot": {goodKey, goodKey, "getClientCertificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mtlsEngine(t, srv, mtlsAPIKey).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": c.cert, "key": c.key}})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "getClientCertificate") {
				t.Fatalf("got %v, want an error naming getClientCertificate with %q", err, c.want)
			}
			assertNoPEM(t, err.Error(), c.key)
			if strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("the error quotes the PEM: %v", err)
			}
		})
	}
	t.Run("misspelt key in javascript", func(t *testing.T) {
		src := strings.Replace(mtlsAPIKey, `  getClientCertificate:
    mapping:
      certificate: {$var: connectionInput.cert}
      privateKey: {$var: connectionInput.key}
`, `  getClientCertificate:
    implementationType: javascript
    code: |
      export default function ({connectionInput}) { return {certificate: connectionInput.cert, privatekey: connectionInput.key} }
`, 1)
		_, err := mtlsEngine(t, srv, src).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": good, "key": goodKey}})
		if err == nil || !strings.Contains(err.Error(), `no key "privatekey"`) {
			t.Fatalf("got %v", err)
		}
		assertNoPEM(t, err.Error(), goodKey)
	})
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestMTLSMisspeltResultKeyAtLoad: a literal mapping's misspelt key is a
// load error at its line and column.
func TestMTLSMisspeltResultKeyAtLoad(t *testing.T) {
	src := strings.Replace(mtlsAPIKey, "      privateKey: {$var: connectionInput.key}", "      privatKey: {$var: connectionInput.key}", 1)
	_, diags := New().LoadFS(fsOf(strings.ReplaceAll(src, "{{URL}}", "https://example.com")), "c.yml")
	if !strings.Contains(diags.Error(), `c.yml:15:7: error: getClientCertificate result has no key "privatKey"`) {
		t.Fatalf("got %v", diags)
	}
}

// TestMTLSWithTransportRefused: a transport the engine cannot add a client
// certificate to is refused by name, never used without the certificate.
func TestMTLSWithTransportRefused(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	var sent atomic.Int64
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { sent.Add(1); return nil, errors.New("sent") })
	certPEM, keyPEM := ca.valid(t, "c")
	src := strings.ReplaceAll(mtlsAPIKey, "{{URL}}", "https://api.example.com")
	for name, opts := range map[string][]Option{
		"WithTransport":                   {WithTransport(rt)},
		"WithTransport and WithConnectTo": {WithTransport(rt), WithConnectTo(ConnectTo{Host: "api.example.com", Target: &url.URL{Scheme: "https", Host: "127.0.0.1:1"}})},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newEngine(t, nil, src, opts...).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": certPEM, "key": keyPEM}})
			if err == nil || !strings.Contains(err.Error(), "engine.WithTransport") || !strings.Contains(err.Error(), "getClientCertificate") {
				t.Fatalf("got %v", err)
			}
			if sent.Load() != 0 {
				t.Errorf("a request was sent")
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestMTLSConnectTo: with connect-to rules over an *http.Transport, the
// certificate is presented on the rewritten connection.
func TestMTLSConnectTo(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	target, _ := url.Parse(srv.URL)
	base := srv.Client().Transport.(*http.Transport).Clone()
	// The test server's certificate names example.com, the host asked for.
	src := strings.ReplaceAll(mtlsAPIKey, "{{URL}}", "https://example.com")
	e := newEngine(t, nil, src, WithTransport(base), WithConnectTo(ConnectTo{Host: "example.com", Target: target}))
	certPEM, keyPEM := ca.valid(t, "routed")
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": certPEM, "key": keyPEM}})
	if got := get(t, cl, "/me"); got["cn"] != "routed" {
		t.Fatalf("the server saw %v", got)
	}
}

// TestMTLSTransportsShared: clients of one certificate share a transport
// (and its connections); the cache is bounded and closes what it evicts.
func TestMTLSTransportsShared(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	e := mtlsEngine(t, srv, mtlsAPIKey)
	c1, k1 := ca.valid(t, "one")
	c2, k2 := ca.valid(t, "two")
	var wires []http.RoundTripper
	for _, ck := range [][2]string{{c1, k1}, {c1, k1}, {c2, k2}} {
		cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": ck[0], "key": ck[1]}})
		get(t, cl, "/me")
		wires = append(wires, cl.wire)
	}
	if wires[0] != wires[1] || wires[0] == wires[2] {
		t.Errorf("transports: same certificate shared %v, different certificates apart %v", wires[0] == wires[1], wires[0] != wires[2])
	}
	if n := e.certTransports.len(); n != 2 {
		t.Errorf("%d cached transports, want 2", n)
	}
	// The first transport holds an idle connection; evicting it closes it.
	closed := make(chan struct{})
	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	plain.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			close(closed)
		}
	}
	plain.Start()
	defer plain.Close()
	var c transportCache
	first := &http.Transport{}
	rt := c.get([32]byte{0xff, 0xff, 0xff}, func() (http.RoundTripper, *http.Transport) { return first, first })
	req, _ := http.NewRequest("GET", plain.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for i := range maxCertTransports {
		c.get([32]byte{byte(i), byte(i >> 8)}, func() (http.RoundTripper, *http.Transport) {
			t := &http.Transport{}
			return t, t
		})
	}
	if n := c.len(); n != maxCertTransports {
		t.Errorf("cache holds %d, want %d", n, maxCertTransports)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("the evicted transport's idle connection stayed open")
	}
}

// mtlsOAuth is an RFC 8705 authorization server and resource server: the
// token endpoint authenticates the client by its certificate (client_id in
// the body, no secret anywhere) and binds its tokens to the certificate's
// thumbprint; the API accepts a token only with that certificate.
type mtlsOAuth struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	bound    map[string]string // access token -> x5t#S256
	failures []string
	grants   map[string]int
	n        atomic.Int64
}

func (s *mtlsOAuth) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func (s *mtlsOAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		x5t, ok := s.bound[tok]
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := mtls.CheckBinding(r, x5t); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":%q}`, err.Error())
			return
		}
		peerCN(w, r)
		return
	}
	r.ParseForm()
	if r.Header.Get("Authorization") != "" || r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion") {
		s.fail("the token request carries a client secret: %v %v", r.Header, r.PostForm)
	}
	if r.PostForm.Get("client_id") != "app-1" {
		s.fail("client_id %q", r.PostForm.Get("client_id"))
	}
	grant := r.PostForm.Get("grant_type")
	s.mu.Lock()
	s.grants[grant]++
	s.mu.Unlock()
	if grant == "authorization_code" && r.PostForm.Get("code") != "code-1" {
		s.fail("code %q", r.PostForm.Get("code"))
	}
	x5t := mtls.Thumbprint(r.TLS.PeerCertificates[0])
	tok := fmt.Sprintf("at-%d", s.n.Add(1))
	s.mu.Lock()
	s.bound[tok] = x5t
	s.mu.Unlock()
	// expires_in under the refresh margin: every use renews it.
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "refresh_token": "rt-" + tok, "token_type": "Bearer", "expires_in": 30, "cnf": map[string]string{"x5t#S256": x5t}})
}

func newMTLSOAuth(t *testing.T, ca *mtlsCA) *mtlsOAuth {
	s := &mtlsOAuth{t: t, bound: map[string]string{}, grants: map[string]int{}}
	s.srv = newMTLSServer(t, ca, s)
	return s
}

func (s *mtlsOAuth) check() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		s.t.Error(f)
	}
}

const mtlsOAuthConnector = `name: O
key: c
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties:
        cert: {type: string}
        key: {type: string, format: password}
  getClientCertificate:
    mapping:
      certificate: {$var: connectionInput.cert}
      privateKey: {$var: connectionInput.key}
  getOAuthConfig:
    mapping:
      clientId: app-1
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
      clientAuthLocation: LOCATION
GRANT  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

func mtlsOAuthSource(location, grant string) string {
	src := strings.Replace(mtlsOAuthConnector, "LOCATION", location, 1)
	if grant != "" {
		grant = "      grantType: " + grant + "\n"
	}
	return strings.Replace(src, "GRANT", grant, 1)
}

// TestMTLSTLSClientAuth: RFC 8705 client authentication on the
// authorization code exchange, the refresh and the client credentials
// grant, with certificate-bound access tokens the API checks against the
// certificate presented.
func TestMTLSTLSClientAuth(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	certPEM, keyPEM := ca.valid(t, "oauth-client")
	input := map[string]any{"cert": certPEM, "key": keyPEM}
	for _, loc := range []string{"tls_client_auth", "self_signed_tls_client_auth"} {
		t.Run(loc+"/authorization code and refresh", func(t *testing.T) {
			s := newMTLSOAuth(t, ca)
			e := mtlsEngine(t, s.srv, mtlsOAuthSource(loc, ""))
			ctx := context.Background()
			conn := Connection{Connector: "c", ID: "conn-1", ConnectionParameters: input}
			req, err := e.AuthorizationURL(ctx, conn, "https://app.example.com/cb")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.CompleteAuthorization(ctx, conn, url.Values{"code": {"code-1"}, "state": {req.State}}, "https://app.example.com/cb", req.State, req.Verifier); err != nil {
				t.Fatal(err)
			}
			cl := mustClient(t, e, conn)
			for i := range 2 {
				if got := get(t, cl, "/me"); got["cn"] != "oauth-client" {
					t.Fatalf("the API saw %v", got)
				}
				if i == 0 {
					e.now = func() time.Time { return time.Now().Add(time.Hour) } // the token is due
				}
			}
			s.check()
			if s.grants["authorization_code"] != 1 || s.grants["refresh_token"] < 1 {
				t.Errorf("grants %v, want one code exchange and a refresh", s.grants)
			}
		})
		t.Run(loc+"/client credentials", func(t *testing.T) {
			s := newMTLSOAuth(t, ca)
			cl := mustClient(t, mtlsEngine(t, s.srv, mtlsOAuthSource(loc, "client_credentials")), Connection{ConnectionParameters: input})
			if got := get(t, cl, "/me"); got["cn"] != "oauth-client" {
				t.Fatalf("the API saw %v", got)
			}
			s.check()
			if s.grants["client_credentials"] < 1 {
				t.Errorf("grants %v", s.grants)
			}
		})
	}
}

// TestMTLSBoundTokenNeedsTheCertificate: a certificate-bound token sent
// with another certificate is refused by the resource server (the check
// the tests above pass is a real one).
func TestMTLSBoundTokenNeedsTheCertificate(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	s := newMTLSOAuth(t, ca)
	c1, k1 := ca.valid(t, "one")
	c2, k2 := ca.valid(t, "two")
	cl := mustClient(t, mtlsEngine(t, s.srv, mtlsOAuthSource("tls_client_auth", "client_credentials")), Connection{ConnectionParameters: map[string]any{"cert": c1, "key": k1}})
	get(t, cl, "/me")
	st := cl.state.Load()
	tok, _ := st.credentials["access_token"].(string)
	other := mustClient(t, mtlsEngine(t, s.srv, apiKeyHeaderBearer), Connection{Credentials: map[string]any{"token": tok}, ConnectionParameters: map[string]any{"cert": c2, "key": k2}})
	_, err := other.Get(context.Background(), "/me")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a bound token with another certificate: %v", err)
	}
}

const apiKeyHeaderBearer = `name: B
key: c
auth:
  type: client-credentials
  getClientCertificate:
    mapping:
      certificate: {$var: connectionInput.cert}
      privateKey: {$var: connectionInput.key}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}
`

// TestMTLSTLSClientAuthNeedsCertificate: tls_client_auth without
// getClientCertificate is refused: at load for a literal, at connect time
// when JavaScript computes it; and a client secret beside it is refused.
func TestMTLSTLSClientAuthNeedsCertificate(t *testing.T) {
	noCert := strings.Replace(mtlsOAuthSource("self_signed_tls_client_auth", "client_credentials"), `  getClientCertificate:
    mapping:
      certificate: {$var: connectionInput.cert}
      privateKey: {$var: connectionInput.key}
`, "", 1)
	_, diags := New().LoadFS(fsOf(strings.ReplaceAll(noCert, "{{URL}}", "https://example.com")), "c.yml")
	if !strings.Contains(diags.Error(), "c.yml:16:27: error: clientAuthLocation self_signed_tls_client_auth authenticates the client by its TLS certificate, but auth has no getClientCertificate") {
		t.Errorf("load: %v", diags)
	}
	var tokens atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tokens.Add(1) }))
	defer srv.Close()
	js := strings.Replace(noCert, `  getOAuthConfig:
    mapping:
      clientId: app-1
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
      clientAuthLocation: self_signed_tls_client_auth
      grantType: client_credentials
`, `  getOAuthConfig:
    implementationType: javascript
    code: |
      export default function () { return {clientId: "app-1", tokenUri: "{{URL}}/token", grantType: "client_credentials", clientAuthLocation: "tls_" + "client_auth"} }
`, 1)
	_, err := mtlsEngine(t, srv, js).Client(context.Background(), Connection{Connector: "c"})
	if err == nil || !strings.Contains(err.Error(), "has no getClientCertificate") {
		t.Errorf("connect: %v", err)
	}
	withSecret := strings.Replace(mtlsOAuthSource("tls_client_auth", "client_credentials"), "      clientId: app-1\n", "      clientId: app-1\n      clientSecret: canary-secret-1234\n", 1)
	ca := newMTLSCA(t, "test CA")
	certPEM, keyPEM := ca.valid(t, "c")
	_, err = mtlsEngine(t, srv, withSecret).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"cert": certPEM, "key": keyPEM}})
	if err == nil || !strings.Contains(err.Error(), "sends no client secret") || strings.Contains(err.Error(), "canary") {
		t.Errorf("client secret beside tls_client_auth: %v", err)
	}
	if tokens.Load() != 0 {
		t.Errorf("%d token requests", tokens.Load())
	}
}

// TestMTLSFetchPresentsCertificate: a method's fetch on a connection goes
// out with the connection's certificate.
func TestMTLSFetchPresentsCertificate(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	src := mtlsAPIKey + `  test:
    implementationType: javascript
    code: |
      export default async function () {
        const r = await fetch("{{URL}}/whoami")
        const body = await r.json()
        if (body.cn !== "fetcher") throw new Error("the server saw " + JSON.stringify(body))
        return true
      }
`
	certPEM, keyPEM := ca.valid(t, "fetcher")
	cl := mustClient(t, mtlsEngine(t, srv, src), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": certPEM, "key": keyPEM}})
	if err := cl.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestMTLSKeyNeverShown: a private key the connection input does not hold
// as it is (here base64 of the PEM, decoded by getClientCertificate) is
// still redacted from method errors and logs.
func TestMTLSKeyNeverShown(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	src := strings.Replace(mtlsAPIKey, `  getClientCertificate:
    mapping:
      certificate: {$var: connectionInput.cert}
      privateKey: {$var: connectionInput.key}
`, `  getClientCertificate:
    implementationType: javascript
    code: |
      export default function ({connectionInput}) { return {certificate: connectionInput.cert, privateKey: atob(connectionInput.key)} }
  test:
    implementationType: javascript
    code: |
      export default function ({connectionInput}) { console.log("key", atob(connectionInput.key)); throw new Error("oops " + atob(connectionInput.key)) }
`, 1)
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))
	certPEM, keyPEM := ca.valid(t, "secretive")
	cl := mustClient(t, mtlsEngine(t, srv, src, WithLogger(logger)), Connection{ConnectionParameters: map[string]any{
		"apiKey": "sk_1", "cert": certPEM, "key": base64.StdEncoding.EncodeToString([]byte(keyPEM))}})
	if got := get(t, cl, "/me"); got["cn"] != "secretive" {
		t.Fatalf("the server saw %v", got)
	}
	err := cl.Test(context.Background())
	if err == nil || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("got %v", err)
	}
	assertNoPEM(t, err.Error(), keyPEM)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "key") {
		t.Fatalf("nothing was logged: %q", logs.String())
	}
	assertNoPEM(t, logs.String(), keyPEM)
}

// TestMTLSProxyRidesOnTheCertificate: a proxy connection's requests present
// the client certificate of the connection it rides on.
func TestMTLSProxyRidesOnTheCertificate(t *testing.T) {
	ca := newMTLSCA(t, "test CA")
	srv := newMTLSServer(t, ca, http.HandlerFunc(peerCN))
	e := mtlsEngine(t, srv, mtlsAPIKey)
	proxy := strings.ReplaceAll("key: p\nname: P\nauth:\n  type: proxy\n  proxyKey: c\n  makeApiClient:\n    mapping: {baseUri: \"{{URL}}/p\"}\n", "{{URL}}", srv.URL)
	if _, diags := e.LoadFS(fsOf(proxy), "c.yml"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	certPEM, keyPEM := ca.valid(t, "under")
	base := Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_1", "cert": certPEM, "key": keyPEM}}
	cl := mustClient(t, e, Connection{Connector: "p", Base: &base})
	if got := get(t, cl, "/me"); got["cn"] != "under" || got["key"] != "sk_1" {
		t.Fatalf("the server saw %v", got)
	}
}
