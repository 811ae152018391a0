package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

// tenant stands in for a provider's tenant host (dev-123456.okta.com,
// login.microsoftonline.com, a Keycloak server): it serves the tenant's
// metadata document at its well-known path, with endpoints on the tenant's
// own https host, and forwards the provider's authorize, token and API
// paths to an oauthtest server (go-oauth2's server side). The engine
// reaches it through WithConnectTo, so every URL keeps the provider's
// host, as --connect-to does.
type tenant struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []string // Host + path of every request
	wkDoc map[string]map[string]any
}

// newTenant serves docs (well-known path: document) and routes (provider
// path: oauthtest path).
func newTenant(t *testing.T, srv *oauthtest.Server, docs map[string]map[string]any, routes map[string]string) *tenant {
	up, _ := url.Parse(srv.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(up)
		pr.Out.URL.Path = routes[pr.In.URL.Path]
		pr.Out.URL.RawPath = ""
	}}
	tn := &tenant{wkDoc: docs}
	tn.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn.mu.Lock()
		tn.seen = append(tn.seen, r.Host+r.URL.Path)
		tn.mu.Unlock()
		if doc, ok := docs[r.URL.Path]; ok && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(doc)
			return
		}
		if _, ok := routes[r.URL.Path]; ok {
			rp.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(tn.Close)
	return tn
}

func (tn *tenant) requests() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return append([]string(nil), tn.seen...)
}

// connectTo sends hosts to tn.
func (tn *tenant) connectTo(t *testing.T, hosts ...string) []ConnectTo {
	var rules []ConnectTo
	for _, h := range hosts {
		rule, err := ParseConnectTo(h+"="+tn.URL, false)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, rule)
	}
	return rules
}

// loadBundled loads connectors/key, edited by edit (nil: as shipped).
func loadBundled(t *testing.T, key string, edit func(spec string) string, opts ...Option) *Engine {
	t.Helper()
	dir := filepath.Join("..", "connectors", key)
	if edit != nil {
		tmp := filepath.Join(t.TempDir(), key)
		if err := os.CopyFS(tmp, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(tmp, "spec.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "spec.yml"), []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
		dir = tmp
	}
	e := New(opts...)
	if _, diags := e.Load(dir); diags.HasErrors() {
		t.Fatalf("%s does not load: %v", key, diags)
	}
	return e
}

// connectFromInput runs the authorization code flow of a bundled
// connector against the loopback tenant (the browser leg goes to the
// rewritten authorize URL), then calls the API at path.
func connectFromInput(t *testing.T, e *Engine, rules []ConnectTo, srv *oauthtest.Server, conn Connection, path string) map[string]any {
	t.Helper()
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	cb := srv.Authorize(t, RewriteURL(rules, req.URL))
	creds, err := e.CompleteAuthorization(ctx, conn, cb.Query(), redirectURI, req.State, req.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if creds["access_token"] == nil || creds["refresh_token"] == nil {
		t.Fatalf("credentials %v", creds)
	}
	conn.Credentials = creds
	return get(t, mustClient(t, e, conn), path)
}

// refusingTransport fails every request: nothing may be sent.
type refusingTransport struct{ n int }

func (r *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n++
	return nil, errors.New("no request may be sent: " + req.URL.String())
}

func oktaTenant(t *testing.T, srv *oauthtest.Server, domain string) *tenant {
	issuer := "https://" + domain
	return newTenant(t, srv, map[string]map[string]any{
		"/.well-known/oauth-authorization-server": {
			"issuer":                                issuer,
			"authorization_endpoint":                issuer + "/oauth2/v1/authorize",
			"token_endpoint":                        issuer + "/oauth2/v1/token",
			"response_types_supported":              []string{"code"},
			"code_challenge_methods_supported":      []string{"S256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		},
	}, map[string]string{"/oauth2/v1/authorize": "/authorize", "/oauth2/v1/token": "/token", "/api/v1/users/me": "/api/me"})
}

// TestOktaConnectsFromDomainOnly: the bundled okta connector, given the
// app's client in its parameters and only the Okta domain as input,
// discovers the org authorization server, authorizes with PKCE, and calls
// the API, all on the tenant's host.
func TestOktaConnectsFromDomainOnly(t *testing.T) {
	for _, domain := range []string{"dev-123456.okta.com", "acme.oktapreview.com", "acme.okta-emea.com"} {
		t.Run(domain, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
			tn := oktaTenant(t, srv, domain)
			rules := tn.connectTo(t, domain)
			e := loadBundled(t, "okta", nil, WithConnectTo(rules...))
			conn := Connection{Connector: "okta", ConnectorParameters: clientParams, ConnectionParameters: map[string]any{"domain": domain}}
			me := connectFromInput(t, e, rules, srv, conn, "/users/me")
			if me["user"] != oauthtest.UserID {
				t.Fatalf("API answered %v", me)
			}
			for _, r := range tn.requests() {
				// The browser leg goes to the rewritten authorize URL.
				if !strings.HasPrefix(r, domain+"/") && !strings.HasSuffix(r, "/oauth2/v1/authorize") {
					t.Errorf("request %s not for the tenant's host", r)
				}
			}
		})
	}
}

// TestOktaDomainOutsideThePatternsIsRefused: a domain that is not Okta's is
// refused before any request, by the input schema and, without it, by the
// host policy (HostError naming the issuer).
func TestOktaDomainOutsideThePatternsIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(string) string
	}{
		{"as shipped", nil},
		{"without the input pattern", func(s string) string {
			i := strings.Index(s, "          pattern: ")
			j := i + strings.Index(s[i:], "\n")
			return s[:i] + s[j+1:]
		}},
	} {
		for _, domain := range []string{"evil.example.com", "okta.com.evil.example", "dev-1.okta.com.evil.example"} {
			t.Run(tc.name+"/"+domain, func(t *testing.T) {
				rt := &refusingTransport{}
				e := loadBundled(t, "okta", tc.edit, WithTransport(rt))
				conn := Connection{Connector: "okta", ConnectorParameters: clientParams, ConnectionParameters: map[string]any{"domain": domain}}
				_, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
				if err == nil {
					t.Fatal("accepted")
				}
				if tc.edit != nil {
					var he *HostError
					if !errors.As(err, &he) || he.Field != "issuer" {
						t.Fatalf("got %v, want a HostError for issuer", err)
					}
				}
				if rt.n != 0 {
					t.Fatalf("%d requests sent", rt.n)
				}
				if strings.Contains(err.Error(), "secret-1") {
					t.Errorf("error shows the client secret: %v", err)
				}
			})
		}
	}
}

const entraTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func entraTenant(t *testing.T, srv *oauthtest.Server, issuerTenant string) *tenant {
	base := "https://login.microsoftonline.com/" + entraTenantID
	return newTenant(t, srv, map[string]map[string]any{
		"/" + entraTenantID + "/v2.0/.well-known/openid-configuration": {
			"issuer":                                "https://login.microsoftonline.com/" + issuerTenant + "/v2.0",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		},
	}, map[string]string{
		"/" + entraTenantID + "/oauth2/v2.0/authorize": "/authorize",
		"/" + entraTenantID + "/oauth2/v2.0/token":     "/token",
		"/v1.0/me": "/api/me",
	})
}

// TestEntraConnectsFromTenantIDOnly: the bundled entra connector discovers
// the tenant's v2.0 endpoints from its OpenID Connect metadata (after a
// 404 at RFC 8414's URL) and calls Graph.
func TestEntraConnectsFromTenantIDOnly(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	tn := entraTenant(t, srv, entraTenantID)
	rules := tn.connectTo(t, "login.microsoftonline.com", "graph.microsoft.com")
	e := loadBundled(t, "entra", nil, WithConnectTo(rules...))
	conn := Connection{Connector: "entra", ConnectorParameters: clientParams, ConnectionParameters: map[string]any{"tenant": entraTenantID}}
	if me := connectFromInput(t, e, rules, srv, conn, "/me"); me["user"] != oauthtest.UserID {
		t.Fatalf("API answered %v", me)
	}
	seen := strings.Join(tn.requests(), " ")
	if !strings.Contains(seen, "login.microsoftonline.com/.well-known/oauth-authorization-server/"+entraTenantID+"/v2.0") || !strings.Contains(seen, "graph.microsoft.com/v1.0/me") {
		t.Errorf("requests: %s", seen)
	}
}

// TestEntraMultiTenantIssuerIsRefused: "common" is refused by the input
// schema before any request; without the schema, the metadata's
// {tenantid} placeholder issuer is refused with a hint, before any token
// request.
func TestEntraMultiTenantIssuerIsRefused(t *testing.T) {
	rt := &refusingTransport{}
	e := loadBundled(t, "entra", nil, WithTransport(rt))
	for _, tenant := range []string{"common", "organizations", "contoso.onmicrosoft.com", "../evil"} {
		conn := Connection{Connector: "entra", ConnectorParameters: clientParams, ConnectionParameters: map[string]any{"tenant": tenant}}
		if _, err := e.AuthorizationURL(context.Background(), conn, redirectURI); err == nil || rt.n != 0 {
			t.Fatalf("%s: %v, %d requests", tenant, err, rt.n)
		}
	}

	srv := oauthtest.New(t, oauthtest.Options{})
	tn := entraTenant(t, srv, "{tenantid}")
	rules := tn.connectTo(t, "login.microsoftonline.com")
	e = loadBundled(t, "entra", nil, WithConnectTo(rules...))
	conn := Connection{Connector: "entra", ConnectorParameters: clientParams, ConnectionParameters: map[string]any{"tenant": entraTenantID}}
	_, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
	if err == nil || !strings.Contains(err.Error(), "{tenantid} placeholder") {
		t.Fatalf("got %v, want the placeholder refused with a hint", err)
	}
	if srv.TokenRequests() != 0 {
		t.Error("token requests sent")
	}
}

func keycloakTenant(t *testing.T, srv *oauthtest.Server, server, realm string) *tenant {
	issuer := server + "/realms/" + realm
	p := "/realms/" + realm
	return newTenant(t, srv, map[string]map[string]any{
		p + "/.well-known/openid-configuration": {
			"issuer":                                issuer,
			"authorization_endpoint":                issuer + "/protocol/openid-connect/auth",
			"token_endpoint":                        issuer + "/protocol/openid-connect/token",
			"userinfo_endpoint":                     issuer + "/protocol/openid-connect/userinfo",
			"code_challenge_methods_supported":      []string{"plain", "S256"},
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"},
		},
	}, map[string]string{
		p + "/protocol/openid-connect/auth":     "/authorize",
		p + "/protocol/openid-connect/token":    "/token",
		p + "/protocol/openid-connect/userinfo": "/api/me",
	})
}

// TestKeycloakConnectsFromRealmOnly: the developer configures the server
// (connector parameters); the user types only the realm.
func TestKeycloakConnectsFromRealmOnly(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	tn := keycloakTenant(t, srv, "https://sso.corp.test", "acme")
	rules := tn.connectTo(t, "sso.corp.test")
	e := loadBundled(t, "keycloak", nil, WithConnectTo(rules...))
	params := map[string]any{"serverUrl": "https://sso.corp.test", "clientId": "client-1", "clientSecret": "secret-1"}
	conn := Connection{Connector: "keycloak", ConnectorParameters: params, ConnectionParameters: map[string]any{"realm": "acme"}}
	if me := connectFromInput(t, e, rules, srv, conn, "/protocol/openid-connect/userinfo"); me["user"] != oauthtest.UserID {
		t.Fatalf("API answered %v", me)
	}
}

// TestKeycloakRealmCannotMoveTheHost: the realm only fills a path segment;
// a realm that would reach another host or path is refused before any
// request, and a discovered endpoint off the server's host is refused.
func TestKeycloakRealmCannotMoveTheHost(t *testing.T) {
	rt := &refusingTransport{}
	e := loadBundled(t, "keycloak", nil, WithTransport(rt))
	params := map[string]any{"serverUrl": "https://sso.corp.test", "clientId": "client-1", "clientSecret": "secret-1"}
	for _, realm := range []string{"../../evil", "a@evil.example", "x/../../y", "acme?x=", "acme#"} {
		conn := Connection{Connector: "keycloak", ConnectorParameters: params, ConnectionParameters: map[string]any{"realm": realm}}
		if _, err := e.AuthorizationURL(context.Background(), conn, redirectURI); err == nil || rt.n != 0 {
			t.Fatalf("%q: %v, %d requests", realm, err, rt.n)
		}
	}

	srv := oauthtest.New(t, oauthtest.Options{})
	tn := keycloakTenant(t, srv, "https://sso.corp.test", "acme")
	tn.wkDoc["/realms/acme/.well-known/openid-configuration"]["token_endpoint"] = "https://collect.evil.example/token"
	rules := tn.connectTo(t, "sso.corp.test")
	e = loadBundled(t, "keycloak", nil, WithConnectTo(rules...))
	conn := Connection{Connector: "keycloak", ConnectorParameters: params, ConnectionParameters: map[string]any{"realm": "acme"}}
	_, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
	var he *HostError
	if !errors.As(err, &he) {
		t.Fatalf("got %v, want a HostError", err)
	}
}

// TestKeycloakRealmNamedLikeTheServersDomain: a realm that carries the
// server's domain label (realm corp on sso.corp.test) could be choosing
// the host, as far as the host policy can tell, and Keycloak allows no
// host pattern: it is refused loudly (HostError), before any request. The
// developer's realm parameter is not the user's and connects.
func TestKeycloakRealmNamedLikeTheServersDomain(t *testing.T) {
	rt := &refusingTransport{}
	e := loadBundled(t, "keycloak", nil, WithTransport(rt))
	params := map[string]any{"serverUrl": "https://sso.corp.test", "clientId": "client-1", "clientSecret": "secret-1"}
	conn := Connection{Connector: "keycloak", ConnectorParameters: params, ConnectionParameters: map[string]any{"realm": "corp"}}
	_, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
	var he *HostError
	if !errors.As(err, &he) || rt.n != 0 {
		t.Fatalf("got %v (%d requests), want a HostError before any request", err, rt.n)
	}

	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	tn := keycloakTenant(t, srv, "https://sso.corp.test", "corp")
	rules := tn.connectTo(t, "sso.corp.test")
	e = loadBundled(t, "keycloak", nil, WithConnectTo(rules...))
	withRealm := map[string]any{"serverUrl": "https://sso.corp.test", "realm": "corp", "clientId": "client-1", "clientSecret": "secret-1"}
	conn = Connection{Connector: "keycloak", ConnectorParameters: withRealm}
	if me := connectFromInput(t, e, rules, srv, conn, "/protocol/openid-connect/userinfo"); me["user"] != oauthtest.UserID {
		t.Fatalf("API answered %v", me)
	}
}
