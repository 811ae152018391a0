package engine

import (
	"bytes"
	"context"
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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connspec/connspec/engine/store"
)

const ghAppID = "424242"

var (
	ghKeyOnce sync.Once
	ghKey     *rsa.PrivateKey
	ghKeyPEM  string
)

// gitHubAppKey is the test app's RSA key, generated once.
func gitHubAppKey(t testing.TB) (*rsa.PrivateKey, string) {
	ghKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ghKey = k
		ghKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	})
	return ghKey, ghKeyPEM
}

// pemCanary is a line of the key's base64 body: text that must never be shown.
func pemCanary(pemText string) string { return strings.Split(pemText, "\n")[3] }

// fakeGitHub plays api.github.com: it verifies the app JWT with the app's
// public key as GitHub does (RS256 only, iss the app id, iat not in the
// future, exp after now and at most 10 minutes after iat) and issues
// installation tokens that last one hour; the API under /v1 accepts only
// the newest token while it is valid. Installation 404 is uninstalled.
type fakeGitHub struct {
	*httptest.Server
	// mux takes more routes (the install flow's).
	mux       *http.ServeMux
	now       func() time.Time
	exchanges atomic.Int64
	mu        sync.Mutex
	current   string
	expires   time.Time
	bodies    []string
}

func newFakeGitHub(t *testing.T, now func() time.Time) *fakeGitHub {
	key, _ := gitHubAppKey(t)
	mux := http.NewServeMux()
	f := &fakeGitHub{now: now, mux: mux}
	mux.HandleFunc("POST /gh/app/installations/{id}/access_tokens", func(w http.ResponseWriter, r *http.Request) {
		if err := f.verifyAppJWT(r, &key.PublicKey); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"message": "A JSON web token could not be decoded: " + err.Error()})
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" {
			http.Error(w, "accept", http.StatusBadRequest)
			return
		}
		f.exchanges.Add(1)
		if r.PathValue("id") == "404" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
			return
		}
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.bodies = append(f.bodies, body.String())
		f.current = fmt.Sprintf("ghs_inst%s_%d", r.PathValue("id"), f.exchanges.Load())
		f.expires = f.now().Add(time.Hour).Truncate(time.Second)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"token": f.current, "expires_at": f.expires.UTC().Format(time.RFC3339)})
	})
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := f.current != "" && r.Header.Get("Authorization") == "Bearer "+f.current && f.now().Before(f.expires)
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"total_count": 1, "path": r.URL.Path})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// verifyAppJWT checks the app JWT independently of the code under test.
func (f *fakeGitHub) verifyAppJWT(r *http.Request, pub *rsa.PublicKey) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return errors.New("no bearer JWT")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(ghAppID), jwt.WithTimeFunc(f.now),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return err
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) > 10*time.Minute {
		return errors.New("exp is more than 10 minutes after iat")
	}
	if f.now().Sub(iat.Time) > 2*time.Minute {
		return errors.New("iat too far in the past")
	}
	return nil
}

func (f *fakeGitHub) token() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current
}

// gitHubAppConnector is a github-app connector: the app from connector
// parameters, the installation from the input (no pattern in the form, so
// that the kind's own refusal is what is tested), apiBase CONFIG.
func gitHubAppConnector(srv *httptest.Server, extra string) string {
	return strings.ReplaceAll(`name: GH
key: c
auth:
  type: github-app
  ui:
    schema:
      type: object
      properties: {installationId: {}, apiBase: {type: string}}
      required: [installationId]
  getGitHubAppConfig:
    mapping:
      appId: {$var: connectorParameters.appId}
      privateKey: {$var: connectorParameters.privateKey}
      installationId: {$var: connectionInput.installationId}
      apiBase: {{URL}}/gh
`+extra+`  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}
`, "{{URL}}", srv.URL)
}

func gitHubAppConn(installation any) Connection {
	_, pemText := gitHubAppKey(nil)
	return Connection{Connector: "c", ConnectorParameters: map[string]any{"appId": ghAppID, "privateKey": pemText},
		ConnectionParameters: map[string]any{"installationId": installation}}
}

// TestGitHubAppEndToEnd: the app JWT passes an independent check, the
// installation token is fetched once on first use, sent to the API, and
// stored as {token, expires_at}.
func TestGitHubAppEndToEnd(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	e := newEngine(t, nil, gitHubAppConnector(gh.Server, "      repositories: [octo-repo]\n      permissions: {contents: read}\n"))
	conn := gitHubAppConn("12345")
	conn.ID = "gh-1"
	cl := mustClient(t, e, conn)
	for range 3 {
		if got := get(t, cl, "/installation/repositories"); fmt.Sprint(got["total_count"]) != "1" {
			t.Fatalf("got %v", got)
		}
	}
	if n := gh.exchanges.Load(); n != 1 {
		t.Errorf("%d token exchanges for three requests, want 1", n)
	}
	if !strings.HasPrefix(gh.token(), "ghs_inst12345_") {
		t.Errorf("token for the wrong installation: %q", gh.token())
	}
	if want := `{"permissions":{"contents":"read"},"repositories":["octo-repo"]}`; len(gh.bodies) != 1 || strings.TrimSpace(gh.bodies[0]) != want {
		t.Errorf("exchange body %q, want %s", gh.bodies, want)
	}
	rec, err := e.store.Get(context.Background(), "gh-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Credentials["token"] != gh.token() || parseExpiresAt(rec.Credentials["expires_at"]).IsZero() {
		t.Errorf("stored credentials %v, want {token, expires_at}", rec.Credentials)
	}
}

// TestGitHubAppRenewsBeforeExpiry: a token within five minutes of its
// one-hour expiry is replaced before the request, not after a refusal.
func TestGitHubAppRenewsBeforeExpiry(t *testing.T) {
	var clock *fakeClock
	gh := newFakeGitHub(t, func() time.Time { return clock.Now() })
	e := newEngine(t, nil, gitHubAppConnector(gh.Server, ""))
	clock = withClock(e)
	cl := mustClient(t, e, gitHubAppConn(7))
	get(t, cl, "/a")
	first := gh.token()
	clock.Advance(50 * time.Minute)
	get(t, cl, "/b")
	if gh.exchanges.Load() != 1 {
		t.Fatalf("renewed %d times 10 minutes before expiry", gh.exchanges.Load()-1)
	}
	clock.Advance(6 * time.Minute)
	get(t, cl, "/c")
	if gh.exchanges.Load() != 2 || gh.token() == first {
		t.Errorf("4 minutes before expiry: %d exchanges, want 2", gh.exchanges.Load())
	}
	if got := cl.Credentials()["token"]; got != gh.token() {
		t.Errorf("client holds %v, want the new token", got)
	}
}

// TestGitHubAppRenewalStorm: 20 concurrent requests on an expired token,
// through two engines sharing one SQLite store, make exactly one exchange.
func TestGitHubAppRenewalStorm(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	stores := faultSQLiteStores(t, 2)
	expired := map[string]any{"token": "ghs_expired", "expires_at": formatExpiresAt(time.Now().Add(-time.Minute))}
	if _, err := stores[0].CompareAndSwap(context.Background(), "gh-storm", 0, expired); err != nil {
		t.Fatal(err)
	}
	conn := gitHubAppConn("55")
	conn.ID = "gh-storm"
	var clients []*Client
	for _, s := range stores {
		clients = append(clients, mustClient(t, newEngine(t, nil, gitHubAppConnector(gh.Server, ""), WithStore(s)), conn))
	}
	getConcurrently(t, clients, 20, "/x", "")
	if n := gh.exchanges.Load(); n != 1 {
		t.Errorf("%d installation token exchanges for 20 concurrent requests on two engines, want 1", n)
	}
	rec, _ := stores[1].Get(context.Background(), "gh-storm")
	if rec.Credentials["token"] != gh.token() {
		t.Errorf("the store holds %v, want the new token", rec.Credentials["token"])
	}
}

// TestGitHubAppUninstalledIsDefunct: a 404 on the exchange (the app was
// uninstalled) makes the connection defunct with a clear error, recorded in
// the store, and it is not asked again on the next request.
func TestGitHubAppUninstalledIsDefunct(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	var logs bytes.Buffer
	e := newEngine(t, nil, gitHubAppConnector(gh.Server, ""), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	conn := gitHubAppConn("404")
	conn.ID = "gh-gone"
	if _, err := e.store.CompareAndSwap(context.Background(), "gh-gone", 0, map[string]any{"token": "ghs_old", "expires_at": formatExpiresAt(time.Now().Add(-time.Second))}); err != nil {
		t.Fatal(err)
	}
	cl := mustClient(t, e, conn)
	for range 3 {
		_, err := cl.Get(context.Background(), "/x")
		if !errors.Is(err, ErrConnectionIsDefunct) || !strings.Contains(err.Error(), "GitHub App installation 404 was not found") {
			t.Fatalf("err = %v, want connection_is_defunct naming the installation", err)
		}
	}
	if n := gh.exchanges.Load(); n != 1 {
		t.Errorf("%d exchanges, want 1: a defunct connection is not retried", n)
	}
	rec, err := e.store.Get(context.Background(), "gh-gone")
	if err != nil || rec.State.Status != store.StatusNeedsReauth {
		t.Errorf("store state %+v (%v), want needs_reauth", rec.State, err)
	}
	_, pemText := gitHubAppKey(t)
	if strings.Contains(logs.String()+rec.State.LastError, pemCanary(pemText)) {
		t.Error("the private key is in the logs or the stored error")
	}
}

// TestGitHubAppInstallationIDIsDigits: an installation id goes into the
// token request's path, so anything but digits is refused before any
// request, naming the field; numbers from JSON are read without loss.
func TestGitHubAppInstallationIDIsDigits(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	e := newEngine(t, nil, gitHubAppConnector(gh.Server, ""))
	for _, bad := range []any{"1/../../../users", "12?x=1", "12#", "-5", "+5", " 5", "5 ", "0x1f", "١٢", "", 1.5, -3.0, 1e300, true, []any{"1"}} {
		_, err := e.Client(context.Background(), gitHubAppConn(bad))
		if err == nil || !strings.Contains(err.Error(), "installationId") {
			t.Errorf("installationId %#v: err = %v, want a refusal naming installationId", bad, err)
		}
	}
	if n := gh.exchanges.Load(); n != 0 {
		t.Errorf("%d exchanges for refused ids", n)
	}
	cl := mustClient(t, e, gitHubAppConn(float64(9007199254740)))
	get(t, cl, "/x")
	if !strings.HasPrefix(gh.token(), "ghs_inst9007199254740_") {
		t.Errorf("numeric id sent as %q", gh.token())
	}
}

// TestGitHubAppAPIBaseIsNotTheUsers: apiBase receives the app JWT, which is
// good for every installation: connection input may not choose its host,
// even where the connector's host patterns would let it choose the API's.
func TestGitHubAppAPIBaseIsNotTheUsers(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	cases := map[string]struct{ config, input string }{
		"whole URL from input":         {`apiBase: {$var: connectionInput.apiBase}`, gh.URL + "/gh"},
		"host from input":              {`apiBase: {$tpl: {template: "https://{h}/api/v3", values: {h: {$var: connectionInput.apiBase}}}}`, "evil.example"},
		"domain under allowedHosts":    {`apiBase: {$tpl: {template: "https://{h}.example.com/api/v3", values: {h: {$var: connectionInput.apiBase}}}}`, "evil"},
		"whole URL under allowedHosts": {`apiBase: {$var: connectionInput.apiBase}`, "https://ghe.example.com/api/v3"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(gitHubAppConnector(gh.Server, ""), "apiBase: "+gh.URL+"/gh", c.config, 1)
			src = strings.Replace(src, "  getGitHubAppConfig:", "  allowedHosts: [\"*.example.com\"]\n  getGitHubAppConfig:", 1)
			e := newEngine(t, nil, src)
			conn := gitHubAppConn("1")
			conn.ConnectionParameters["apiBase"] = c.input
			_, err := e.Client(context.Background(), conn)
			if err == nil || !strings.Contains(err.Error(), "apiBase") {
				t.Errorf("err = %v, want apiBase refused", err)
			}
		})
	}
	// From the developer (connector parameters) it is used.
	src := strings.Replace(gitHubAppConnector(gh.Server, ""), "apiBase: "+gh.URL+"/gh", "apiBase: {$var: connectorParameters.apiBase}", 1)
	conn := gitHubAppConn("1")
	conn.ConnectorParameters["apiBase"] = gh.URL + "/gh"
	get(t, mustClient(t, newEngine(t, nil, src), conn), "/x")
	if gh.exchanges.Load() != 1 {
		t.Errorf("apiBase from connector parameters: %d exchanges, want 1", gh.exchanges.Load())
	}
}

// TestGitHubAppConfigRefusals: a config the kind cannot use is refused when
// the client is made, naming what is wrong and never quoting the key.
func TestGitHubAppConfigRefusals(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	_, pemText := gitHubAppKey(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}))
	cases := []struct {
		name, extra string
		params      map[string]any
		want        string
	}{
		{"no app id", "", map[string]any{"appId": ""}, "appId"},
		{"app id with spaces", "", map[string]any{"appId": "1 2"}, "appId"},
		{"no private key", "", map[string]any{"privateKey": nil}, "privateKey"},
		{"private key not a string", "", map[string]any{"privateKey": 12}, "privateKey"},
		{"not a PEM key", "", map[string]any{"privateKey": "-----BEGIN NOTHING-----\n" + pemCanary(pemText) + "\n-----END NOTHING-----\n"}, "privateKey"},
		{"EC key", "", map[string]any{"privateKey": ecPEM}, "RS256"},
		{"RSA key under 2048 bits", "", map[string]any{"privateKey": smallPEM}, "2048"},
		{"repositories not a list", "      repositories: octo\n", nil, "repositories"},
		{"permissions not strings", "      permissions: {contents: 1}\n", nil, "permissions.contents"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, nil, gitHubAppConnector(gh.Server, c.extra))
			conn := gitHubAppConn("5")
			for k, v := range c.params {
				conn.ConnectorParameters[k] = v
			}
			_, err := e.Client(context.Background(), conn)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to name %s", err, c.want)
			}
			pk, _ := conn.ConnectorParameters["privateKey"].(string)
			for _, line := range strings.Split(pk, "\n") {
				if len(line) > 30 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
					t.Errorf("the private key is in the error: %v", err)
				}
			}
			if !strings.Contains(err.Error(), "getGitHubAppConfig") {
				t.Errorf("the error does not name the method: %v", err)
			}
		})
	}
	if gh.exchanges.Load() != 0 {
		t.Errorf("%d exchanges for refused configs", gh.exchanges.Load())
	}
}

// TestGitHubAppKeyNeverShown: the private key and the app JWT stay out of
// errors, logs and Redact output, also when GitHub refuses the JWT.
func TestGitHubAppKeyNeverShown(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	var logs bytes.Buffer
	e := newEngine(t, nil, gitHubAppConnector(gh.Server, ""), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	// Another app's key: GitHub refuses the JWT (401), not the installation.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	conn := gitHubAppConn("5")
	conn.ConnectorParameters["privateKey"] = otherPEM
	cl := mustClient(t, e, conn)
	_, err := cl.Get(context.Background(), "/x")
	if err == nil || errors.Is(err, ErrConnectionIsDefunct) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("err = %v, want GitHub's 401, not defunct", err)
	}
	out := err.Error() + logs.String() + cl.Redact(otherPEM) + fmt.Sprintf("%v %+v", cl.session, cl.session)
	for _, line := range strings.Split(strings.TrimSpace(otherPEM), "\n")[1:5] {
		if strings.Contains(out, line) {
			t.Fatalf("a line of the private key is shown: %s", out)
		}
	}
	if strings.Contains(out, "eyJ") {
		t.Errorf("a JWT is shown: %s", out)
	}
}

// TestGitHubAppConfigInJavaScript: getGitHubAppConfig may be JavaScript;
// a key echoed into a thrown error is redacted.
func TestGitHubAppConfigInJavaScript(t *testing.T) {
	gh := newFakeGitHub(t, time.Now)
	js := func(body string) string {
		return strings.Replace(gitHubAppConnector(gh.Server, ""), `  getGitHubAppConfig:
    mapping:
      appId: {$var: connectorParameters.appId}
      privateKey: {$var: connectorParameters.privateKey}
      installationId: {$var: connectionInput.installationId}
      apiBase: `+gh.URL+`/gh
`, `  getGitHubAppConfig:
    implementationType: javascript
    code: |
      export default function ({ connectorParameters: p, connectionInput: i }) {
        `+body+`
      }
`, 1)
	}
	cl := mustClient(t, newEngine(t, nil, js(`return { appId: p.appId, privateKey: p.privateKey, installationId: String(i.installationId), apiBase: "`+gh.URL+`/gh" }`)), gitHubAppConn(31))
	get(t, cl, "/x")
	if !strings.HasPrefix(gh.token(), "ghs_inst31_") {
		t.Errorf("token %q", gh.token())
	}
	_, pemText := gitHubAppKey(t)
	_, err := newEngine(t, nil, js(`throw new Error("bad key " + p.privateKey)`)).Client(context.Background(), gitHubAppConn(31))
	if err == nil || strings.Contains(err.Error(), pemCanary(pemText)) {
		t.Errorf("err = %v, want an error without the key", err)
	}
	// A literal mapping's unknown key is refused at validate time (golden
	// invalid/github-app-unknown-config-key); a computed one when the
	// client is made.
	_, err = newEngine(t, nil, js(`return { appId: p.appId, privateKey: p.privateKey, installationID: 5 }`)).Client(context.Background(), gitHubAppConn(31))
	if err == nil || !strings.Contains(err.Error(), `unknown key "installationID"`) {
		t.Errorf("err = %v, want the unknown key named", err)
	}
	_, err = newEngine(t, nil, js(`return "not an object"`)).Client(context.Background(), gitHubAppConn(31))
	if err == nil || !strings.Contains(err.Error(), "must return an object") {
		t.Errorf("err = %v, want the result's shape named", err)
	}
}
