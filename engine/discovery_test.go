package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/connspec/connspec/internal/oauthtest"
)

// metadataServer is an authorization server's metadata endpoint (RFC 8414
// section 3, OpenID Connect Discovery section 4), written from the RFCs: it
// serves doc at path only, 404 elsewhere, and counts what it served.
type metadataServer struct {
	*httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	path    string
	doc     map[string]any
	raw     []byte
	delay   time.Duration
	cache   string
}

func newMetadataServer(t *testing.T) *metadataServer {
	m := &metadataServer{path: "/.well-known/oauth-authorization-server"}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		path, doc, raw, delay, cache := m.path, m.doc, m.raw, m.delay, m.cache
		m.mu.Unlock()
		if r.URL.Path != path || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		m.fetches.Add(1)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if cache != "" {
			w.Header().Set("Cache-Control", cache)
		}
		w.Header().Set("Content-Type", "application/json")
		if raw != nil {
			w.Write(raw)
			return
		}
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metadataServer) set(f func(m *metadataServer)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// rfc8414Doc is the metadata of issuer for the oauthtest server srv.
func rfc8414Doc(issuer string, srv *oauthtest.Server) map[string]any {
	return map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                srv.AuthorizeURL,
		"token_endpoint":                        srv.TokenURL,
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"read", "write"},
	}
}

// discoveryConnector gives getOAuthConfig an issuer and no endpoints; the
// API (and so the oauthtest server's host) is written in makeApiClient.
func discoveryConnector(issuer, apiURL, extra string) string {
	return strings.NewReplacer("{{ISSUER}}", issuer, "{{URL}}", apiURL, "{{EXTRA}}", extra).Replace(`name: C
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      issuer: "{{ISSUER}}"
{{EXTRA}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`)
}

func TestDiscoveryRFC8414AuthorizationCodeFlow(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	md := newMetadataServer(t)
	md.set(func(m *metadataServer) { m.doc = rfc8414Doc(md.URL, srv) })
	e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""))
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	creds := authorizeConnection(t, e, srv, conn)
	conn.Credentials = creds
	if me := get(t, mustClient(t, e, conn), "/api/me"); me["user"] != oauthtest.UserID {
		t.Errorf("resource answered %v", me)
	}
	// Authorization URL, code exchange and client: one fetch.
	if n := md.fetches.Load(); n != 1 {
		t.Errorf("metadata fetched %d times, want 1 (cached per issuer)", n)
	}
}

func TestDiscoveryOIDCFallbackAndPathIssuer(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	for _, tc := range []struct{ name, issuerPath, docPath string }{
		{"openid-configuration", "", "/.well-known/openid-configuration"},
		{"path issuer RFC 8414", "/tenants/t1", "/.well-known/oauth-authorization-server/tenants/t1"},
		{"path issuer OIDC", "/tenants/t1", "/tenants/t1/.well-known/openid-configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := newMetadataServer(t)
			issuer := md.URL + tc.issuerPath
			md.set(func(m *metadataServer) { m.path, m.doc = tc.docPath, rfc8414Doc(issuer, srv) })
			e := newEngine(t, nil, discoveryConnector(issuer, srv.URL, ""))
			authorizeConnection(t, e, srv, Connection{Connector: "c", ConnectorParameters: clientParams})
			if md.fetches.Load() != 1 {
				t.Errorf("fetches %d", md.fetches.Load())
			}
		})
	}
}

// startAuthorization runs AuthorizationURL for the discovery connector.
func startAuthorization(e *Engine) error {
	_, err := e.AuthorizationURL(context.Background(), Connection{Connector: "c", ConnectorParameters: clientParams}, redirectURI)
	return err
}

func TestDiscoveryRefusals(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	huge := []byte(`{"issuer":"x","pad":"` + strings.Repeat("a", 2<<20) + `"}`)
	for _, tc := range []struct {
		name string
		edit func(m *metadataServer, doc map[string]any)
		want string
	}{
		{"issuer mismatch", func(m *metadataServer, doc map[string]any) { doc["issuer"] = "https://evil.example" }, "not the configured"},
		{"issuer with trailing slash", func(m *metadataServer, doc map[string]any) { doc["issuer"] = m.URL + "/" }, "not the configured"},
		{"no S256", func(m *metadataServer, doc map[string]any) {
			doc["code_challenge_methods_supported"] = []string{"plain"}
		}, "without S256"},
		{"token endpoint on another host", func(m *metadataServer, doc map[string]any) {
			doc["token_endpoint"] = strings.Replace(srv.TokenURL, "127.0.0.1", "localhost", 1)
		}, "refusing to send credentials to localhost"},
		{"authorization endpoint not https", func(m *metadataServer, doc map[string]any) {
			doc["authorization_endpoint"] = "http://auth.example.com/authorize"
		}, "must be https"},
		{"huge document", func(m *metadataServer, doc map[string]any) { m.raw = huge }, "larger than 1048576 bytes"},
		{"not an object", func(m *metadataServer, doc map[string]any) { m.raw = []byte(`["x"]`) }, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := newMetadataServer(t)
			md.set(func(m *metadataServer) {
				m.doc = rfc8414Doc(md.URL, srv)
				tc.edit(m, m.doc)
			})
			e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""))
			err := startAuthorization(e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-1") {
				t.Errorf("error shows the client secret: %v", err)
			}
			if srv.TokenRequests() != 0 {
				t.Errorf("token requests sent")
			}
		})
	}
	t.Run("no metadata at all", func(t *testing.T) {
		md := newMetadataServer(t)
		md.set(func(m *metadataServer) { m.path = "/elsewhere" })
		e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""))
		err := startAuthorization(e)
		if err == nil || !strings.Contains(err.Error(), "oauth-authorization-server answered 404") || !strings.Contains(err.Error(), "openid-configuration answered 404") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestDiscoverySlowServerTimesOut(t *testing.T) {
	old := metadataTimeout
	metadataTimeout = 200 * time.Millisecond
	t.Cleanup(func() { metadataTimeout = old })
	srv := oauthtest.New(t, oauthtest.Options{})
	md := newMetadataServer(t)
	md.set(func(m *metadataServer) { m.doc, m.delay = rfc8414Doc(md.URL, srv), time.Minute })
	e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""))
	start := time.Now()
	err := startAuthorization(e)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestDiscoverySingleFlightAndExpiry(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	md := newMetadataServer(t)
	md.set(func(m *metadataServer) {
		m.doc, m.delay, m.cache = rfc8414Doc(md.URL, srv), 100*time.Millisecond, "public, max-age=600"
	})
	e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""))
	clock := withClock(e)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() { errs <- startAuthorization(e) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := md.fetches.Load(); n != 1 {
		t.Fatalf("50 concurrent flows fetched the metadata %d times, want 1", n)
	}
	clock.Advance(599 * time.Second)
	if err := startAuthorization(e); err != nil || md.fetches.Load() != 1 {
		t.Fatalf("within max-age: %v, %d fetches", err, md.fetches.Load())
	}
	clock.Advance(2 * time.Second)
	if err := startAuthorization(e); err != nil || md.fetches.Load() != 2 {
		t.Fatalf("after max-age: %v, %d fetches", err, md.fetches.Load())
	}
}

func TestMetadataTTL(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                        time.Hour,
		"max-age=60":              time.Minute,
		"public, max-age=9999999": 24 * time.Hour,
		"no-store":                0,
		"max-age=-1":              time.Hour,
	} {
		if got := metadataTTL(cc); got != want {
			t.Errorf("%q: %v, want %v", cc, got, want)
		}
	}
}

func TestDiscoveryClientAuthMethod(t *testing.T) {
	for _, tc := range []struct {
		methods  []string
		wantPost bool
	}{{[]string{"client_secret_post"}, true}, {[]string{"client_secret_basic", "client_secret_post"}, false}} {
		var sawPost, sawBasic atomic.Bool
		tok, _ := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			sawPost.Store(r.PostForm.Get("client_secret") == "secret-1")
			_, p, ok := r.BasicAuth()
			sawBasic.Store(ok && p == "secret-1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`))
		})
		md := newMetadataServer(t)
		md.set(func(m *metadataServer) {
			m.doc = map[string]any{"issuer": md.URL, "token_endpoint": tok.URL + "/token", "token_endpoint_auth_methods_supported": tc.methods}
		})
		e := newEngine(t, nil, discoveryConnector(md.URL, tok.URL, "      grantType: client_credentials\n"))
		cl := mustClient(t, e, Connection{Connector: "c", ConnectorParameters: clientParams})
		if got := get(t, cl, "/api"); got["auth"] != "Bearer at-1" {
			t.Fatalf("api saw %v", got)
		}
		if sawPost.Load() != tc.wantPost || sawBasic.Load() == tc.wantPost {
			t.Errorf("%v: secret in body %v, in basic auth %v", tc.methods, sawPost.Load(), sawBasic.Load())
		}
	}
}

// An issuer built from a tenant domain the user types must match a pattern
// the connector allows; it is refused before anything is fetched.
func TestDiscoveryIssuerFromInputIsHostChecked(t *testing.T) {
	e := newEngine(t, nil, `name: C
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties: {domain: {type: string}}
  allowedHosts: ["*.okta.com"]
  getOAuthConfig:
    mapping:
      clientId: id-1
      clientSecret: secret-1
      issuer: {$tpl: {template: "https://{d}/oauth2/default", values: {d: {$var: connectionInput.domain}}}}
  makeApiClient:
    mapping:
      baseUri: {$tpl: {template: "https://{d}/api/v1", values: {d: {$var: connectionInput.domain}}}}
`)
	_, err := e.AuthorizationURL(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"domain": "evil.example.com"}}, redirectURI)
	var he *HostError
	if !errors.As(err, &he) || he.Field != "issuer" {
		t.Fatalf("got %v, want a HostError for issuer", err)
	}
}

// TestDiscoveryIssuerFromInputProbed: at load time, an issuer whose host a
// user's value fills without a pattern the connector declares is refused,
// like any endpoint.
func TestDiscoveryIssuerFromInputProbed(t *testing.T) {
	_, diags := New().LoadFS(fstest.MapFS{"c.yml": {Data: []byte(`name: C
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties: {domain: {type: string}}
  getOAuthConfig:
    mapping:
      clientId: id-1
      issuer: {$tpl: {template: "https://{d}", values: {d: {$var: connectionInput.domain}}}}
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
`)}}, "c.yml")
	if !strings.Contains(diags.Error(), "issuer takes its host from connection input (domain)") {
		t.Fatalf("diagnostics:\n%s", diags.Error())
	}
}

// TestDiscoveryCacheIsBounded: many issuers keep at most maxMetadataEntries
// documents, and the ones kept are still served from the cache.
func TestDiscoveryCacheIsBounded(t *testing.T) {
	var fetches atomic.Int32
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, ok := strings.CutPrefix(r.URL.Path, "/.well-known/oauth-authorization-server/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"issuer": srvURL + "/" + tenant, "token_endpoint": srvURL + "/" + tenant + "/token"})
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	e := New()
	clock := withClock(e)
	ctx := context.Background()
	n := maxMetadataEntries + 44
	for i := range n {
		clock.Advance(time.Second) // a distinct expiry each: the oldest goes first
		if _, err := e.authServerMetadata(ctx, srv.URL+"/t"+strconv.Itoa(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(e.metadata.entries); got > maxMetadataEntries {
		t.Errorf("%d entries cached, want at most %d", got, maxMetadataEntries)
	}
	before := fetches.Load()
	if _, err := e.authServerMetadata(ctx, srv.URL+"/t"+strconv.Itoa(n-1), ""); err != nil || fetches.Load() != before {
		t.Errorf("the newest issuer was fetched again (%v)", err)
	}
	if _, err := e.authServerMetadata(ctx, srv.URL+"/t0", ""); err != nil || fetches.Load() != before+1 {
		t.Errorf("the oldest issuer was still cached (%v)", err)
	}
}
