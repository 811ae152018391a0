package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

// The review's finding (issue 12, class 1): a Zendesk-style connector whose
// OAuth endpoints take a subdomain from connection input sent the app's
// client secret to a host the end user typed. Every URL that carries a
// secret now passes one host policy; these cases cover each kind of
// endpoint, mapping and JavaScript, and count the requests that reach the
// attacker's server (there must be none).

const hostCanarySecret = "canary-client-secret-hostpolicy"

type evilServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newEvilServer(t *testing.T) *evilServer {
	ev := &evilServer{}
	ev.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"stolen","token_type":"bearer","oauth_token":"t","oauth_token_secret":"s","oauth_callback_confirmed":"true"}`))
	}))
	t.Cleanup(ev.Close)
	return ev
}

func (ev *evilServer) host() string { u, _ := url.Parse(ev.URL); return u.Host }

func loadEngine(t *testing.T, src string) *Engine {
	t.Helper()
	e := New()
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
		t.Fatalf("connector does not load:\n%s", diags.Error())
	}
	return e
}

// wantHostRefusal asserts err is the host policy's refusal naming field
// and input, without the client secret or the typed value.
func wantHostRefusal(t *testing.T, err error, field, input, typed string) {
	t.Helper()
	var he *HostError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v; want a *HostError", err)
	}
	if he.Field != field || len(he.Input) == 0 || he.Input[0] != input {
		t.Errorf("HostError{Field: %q, Input: %q}; want %q from %q", he.Field, he.Input, field, input)
	}
	for _, secret := range []string{hostCanarySecret, typed} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
}

const templateOAuth = `key: z
name: Z
auth:
  type: oauth2
  ui:
    schema: {type: object, properties: {subdomain: {type: string}}, required: [subdomain]}
  getOAuthConfig:
    mapping:
      clientId: client-1
      clientSecret: ` + hostCanarySecret + `
      authorizeUri: {$tpl: {template: "http://{subdomain}.zendesk.test/oauth/authorizations/new", values: {subdomain: {$var: connectionInput.subdomain}}}}
      tokenUri: {$tpl: {template: "http://{subdomain}.zendesk.test/oauth/tokens", values: {subdomain: {$var: connectionInput.subdomain}}}}
      GRANT
  makeApiClient:
    mapping:
      baseUri: {$tpl: {template: "http://{subdomain}.zendesk.test/api/v2", values: {subdomain: {$var: connectionParameters.subdomain}}}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`

const jsOAuth = `key: j
name: J
auth:
  type: oauth2
  ALLOWED
  getOAuthConfig:
    code: |
      export default function ({ connectionInput }) {
        const base = 'http://' + connectionInput.host.trim()
        return { clientId: 'client-1', clientSecret: '` + hostCanarySecret + `', authorizeUri: base + '/authorize', tokenUri: base + '/token', GRANT }
      }
  makeApiClient:
    mapping:
      baseUri: https://api.example.test
`

const jsOAuth1 = `key: o
name: O
auth:
  type: oauth1
  getOAuthConfig:
    code: |
      export default function ({ connectionInput }) {
        const base = 'http://' + connectionInput.host
        return { consumerKey: 'ck', consumerSecret: '` + hostCanarySecret + `', requestTokenUri: base + '/request', authorizeUri: base + '/authorize', tokenUri: base + '/access' }
      }
  makeApiClient:
    mapping:
      baseUri: https://api.example.test
`

func TestInputCannotMoveOAuthEndpoints(t *testing.T) {
	ev := newEvilServer(t)
	ctx := context.Background()
	codeFlow := func(src string) func(conn Connection) error {
		e := loadEngine(t, strings.ReplaceAll(strings.ReplaceAll(src, "GRANT", ""), "ALLOWED", ""))
		return func(conn Connection) error {
			req, err := e.AuthorizationURL(ctx, conn, redirectURI)
			if err == nil {
				t.Errorf("authorize URL %s was handed out", req.URL)
			}
			// The callback leg on its own, as a forged callback would run it.
			_, err2 := e.CompleteAuthorization(ctx, conn, url.Values{"code": {"c"}, "state": {"s"}}, redirectURI, "s", "v")
			if err2 == nil {
				t.Error("the code was exchanged")
			}
			return errors.Join(err, err2)
		}
	}
	clientFlow := func(src, grant string) func(conn Connection) error {
		e := loadEngine(t, strings.ReplaceAll(strings.ReplaceAll(src, "GRANT", grant), "ALLOWED", ""))
		return func(conn Connection) error {
			_, err := e.Client(ctx, conn)
			return err
		}
	}
	oauth1 := loadEngine(t, jsOAuth1)
	cases := []struct {
		name, field, input, typed string
		run                       func(Connection) error
	}{
		{"template authorize and token", "authorizeUri", "subdomain", ev.host() + "/#", codeFlow(templateOAuth)},
		{"template token, client credentials", "authorizeUri", "subdomain", ev.host() + "/#", clientFlow(templateOAuth, "grantType: client_credentials")},
		{"template, query ends the host", "authorizeUri", "subdomain", ev.host() + "?", codeFlow(templateOAuth)},
		{"javascript whole host", "authorizeUri", "host", ev.host(), codeFlow(jsOAuth)},
		{"javascript whole host, client credentials", "authorizeUri", "host", "  " + ev.host() + "  ", clientFlow(jsOAuth, "grantType: 'client_credentials'")},
		{"oauth1 request token", "authorizeUri", "host", ev.host(), func(conn Connection) error {
			_, err := oauth1.AuthorizationURL(ctx, conn, redirectURI)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ev.hits.Load()
			key := map[bool]string{true: "j", false: "z"}[strings.Contains(c.name, "javascript")]
			if strings.HasPrefix(c.name, "oauth1") {
				key = "o"
			}
			conn := Connection{Connector: key, ConnectionParameters: map[string]any{c.input: c.typed}}
			err := c.run(conn)
			wantHostRefusal(t, err, c.field, c.input, strings.TrimSpace(c.typed))
			if n := ev.hits.Load() - before; n > 0 {
				t.Errorf("%d request(s) reached the end user's host", n)
			}
		})
	}
}

// Input that fills whole labels of the author's pattern is accepted, and
// so is a host matching auth.allowedHosts.
func TestInputFillsLabelsOfAPattern(t *testing.T) {
	ctx := context.Background()
	e := loadEngine(t, strings.ReplaceAll(templateOAuth, "GRANT", ""))
	req, err := e.AuthorizationURL(ctx, Connection{Connector: "z", ConnectionParameters: map[string]any{"subdomain": "acme"}}, redirectURI)
	if err != nil || !strings.HasPrefix(req.URL, "http://acme.zendesk.test/oauth/authorizations/new?") {
		t.Fatalf("AuthorizationURL = %q, %v", req.URL, err)
	}
	// Two labels still stay under zendesk.test.
	if _, err := e.AuthorizationURL(ctx, Connection{Connector: "z", ConnectionParameters: map[string]any{"subdomain": "evil.example"}}, redirectURI); err != nil {
		t.Fatalf("evil.example.zendesk.test: %v", err)
	}

	allowed := loadEngine(t, strings.NewReplacer("GRANT", "", "ALLOWED", `allowedHosts: ["*.auth.example.test"]`).Replace(jsOAuth))
	req, err = allowed.AuthorizationURL(ctx, Connection{Connector: "j", ConnectionParameters: map[string]any{"host": "acme.eu.auth.example.test"}}, redirectURI)
	if err != nil || !strings.HasPrefix(req.URL, "http://acme.eu.auth.example.test/authorize?") {
		t.Fatalf("AuthorizationURL = %q, %v", req.URL, err)
	}
	_, err = allowed.AuthorizationURL(ctx, Connection{Connector: "j", ConnectionParameters: map[string]any{"host": "auth.example.test.evil.example"}}, redirectURI)
	wantHostRefusal(t, err, "authorizeUri", "host", "auth.example.test.evil.example")
}

// makeApiClient's baseUri follows the same rule: a whole URL typed by the
// user is refused, a schema enum (the author's list) is not user text.
func TestInputBuiltBaseURI(t *testing.T) {
	ev := newEvilServer(t)
	ctx := context.Background()
	e := loadEngine(t, `key: b
name: B
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {url: {type: string}, site: {type: string, enum: [example.test, example.eu]}, key: {type: string}}
  makeApiClient:
    code: |
      export default function ({ connectionParameters: p, credentials }) {
        return { baseUri: p.url || ('http://api.' + p.site + '/v1'), headers: { 'X-Key': credentials.key } }
      }
`)
	_, err := e.Client(ctx, Connection{Connector: "b", ConnectionParameters: map[string]any{"url": ev.URL, "key": "canary-key-1"}})
	wantHostRefusal(t, err, "baseUri", "url", ev.URL)
	if !strings.Contains(err.Error(), "would change the API host") {
		t.Errorf("err = %v", err)
	}
	cl, err := e.Client(ctx, Connection{Connector: "b", ConnectionParameters: map[string]any{"site": "example.eu", "key": "k"}})
	if err != nil {
		t.Fatalf("enum site: %v", err)
	}
	if got := cl.BaseURL().String(); got != "http://api.example.eu/v1" {
		t.Errorf("base = %s", got)
	}
	if ev.hits.Load() != 0 {
		t.Errorf("%d request(s) reached the end user's host", ev.hits.Load())
	}
}

// At validate time, a mapping or expression whose URL takes its host from
// connection input without a pattern is an error at the method, naming the
// field; allowedHosts that could name anybody's domain are refused where
// they are written.
func TestValidateFindsInputBuiltHosts(t *testing.T) {
	const head = "key: v\nname: V\nauth:\n  type: oauth2\n"
	oauth := func(tokenURI string) string {
		return head + "  getOAuthConfig:\n    mapping:\n      clientId: c\n      grantType: client_credentials\n      tokenUri: " + tokenURI +
			"\n  makeApiClient:\n    mapping:\n      baseUri: https://api.example.test\n"
	}
	cases := []struct {
		name, src string
		want      string // "" for no diagnostic; "error: ..." or "warning: ..."
	}{
		{"whole URL from input", oauth("{$var: connectionInput.url}"),
			"c.yml:9:17: error: getOAuthConfig: tokenUri takes its host from connection input (url)"},
		{"whole host by concat", oauth(`{$concat: ["https://", {$var: connectionInput.domain}, "/oauth/token"]}`),
			"error: getOAuthConfig: tokenUri takes its host from connection input (domain)"},
		{"part of a label under the author's domain", oauth(`{$tpl: {template: "https://{t}-eu.example.com/token", values: {t: {$var: connectionInput.tenant}}}}`), ""},
		{"part of the domain's own label", oauth(`{$tpl: {template: "https://{t}example.com/token", values: {t: {$var: connectionInput.tenant}}}}`),
			"error: getOAuthConfig: tokenUri takes its host from connection input (tenant)"},
		{"under a public suffix", oauth(`{$expr: '"https://" + connectionInput.name + ".co.uk/token"'}`),
			"error: getOAuthConfig: tokenUri takes its host from connection input (name)"},
		{"api. before the input", oauth(`{$tpl: {template: "https://api.{site}/token", values: {site: {$var: connectionInput.site}}}}`),
			"error: getOAuthConfig: tokenUri takes its host from connection input (site)"},
		{"a subdomain template", oauth(`{$tpl: {template: "https://{s}.zendesk.com/oauth/tokens", values: {s: {$var: connectionInput.sub}}}}`), ""},
		{"a lower-cased account", oauth(`{$expr: '"https://" + lower(connectionInput.account) + ".suitetalk.api.netsuite.com/token"'}`), ""},
		{"a path segment", oauth(`{$concat: ["https://login.example.com/", {$var: connectionInput.tenant}, "/token"]}`), ""},
		{"the author's choices", strings.Replace(oauth(`{$tpl: {template: "https://api.{site}/token", values: {site: {$var: connectionInput.site}}}}`),
			"  getOAuthConfig:", "  ui:\n    schema: {type: object, properties: {site: {type: string, enum: [datadoghq.com, datadoghq.eu]}}}\n  getOAuthConfig:", 1), ""},
		{"allowedHosts decide at run time", strings.Replace(oauth("{$var: connectionInput.url}"),
			"  getOAuthConfig:", "  allowedHosts: [\"*.auth0.com\"]\n  getOAuthConfig:", 1), ""},
		{"another template may match", oauth("{$var: connectionInput.url}") + "      headers: {X-Help: \"https://{x}.help.example.com\"}\n",
			"warning: getOAuthConfig: tokenUri takes its host from connection input (url)"},
		{"a public-suffix pattern", strings.Replace(oauth("https://login.example.com/token"),
			"  getOAuthConfig:", "  allowedHosts:\n    - \"*.com\"\n  getOAuthConfig:", 1),
			`c.yml:6:7: error: allowedHosts: host pattern "*.com": "com" is a public suffix`},
		{"part of a label pattern", strings.Replace(oauth("https://login.example.com/token"),
			"  getOAuthConfig:", "  allowedHosts: [\"api-*.example.com\"]\n  getOAuthConfig:", 1),
			`error: allowedHosts: host pattern "api-*.example.com": a wildcard must be a whole label`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := New().LoadFS(fstest.MapFS{"c.yml": {Data: []byte(c.src)}}, "c.yml")
			text := diags.Error()
			if c.want == "" {
				if len(diags) > 0 {
					t.Fatalf("unexpected diagnostics:\n%s", text)
				}
				return
			}
			if !strings.Contains(text, c.want) {
				t.Fatalf("diagnostics do not say %q:\n%s", c.want, text)
			}
		})
	}
}

// FuzzHostPolicy feeds connection input to URL templates and checks the
// host rule's promise: whatever the value, an accepted URL's host is under
// the domain the author wrote (or is the author's literal host), and a
// template whose whole host is the value accepts nothing.
func FuzzHostPolicy(f *testing.F) {
	for _, seed := range []string{"acme", "evil.example", "127.0.0.2:18081/#", "EVIL.example?", "a", "x.io", "  evil.example  ",
		"evil.example#", "user@evil.example", "evil.example\\", "%2e", "xn--80ak6aa92e.com", "[::1]", "0x7f.1", "a..b", ".", "evil.example/"} {
		f.Add(seed)
	}
	templates := []struct {
		src    string // the connector's template; {x} is the input
		suffix string // what every accepted host must end with; "" accepts none
	}{
		{"https://{x}.zendesk.test/oauth/tokens", ".zendesk.test"},
		{"https://{x}-eu.api.example.test/v1", ".api.example.test"},
		{"https://login.example.test/{x}/token", "login.example.test"},
		{"https://{x}/oauth/token", ""},
		{"https://api.{x}/v1", ""},
		{"https://{x}example.test/v1", ".example.test"}, // a value ending in "." only adds labels
	}
	f.Fuzz(func(t *testing.T, x string) {
		if strings.TrimSpace(x) == "" {
			return
		}
		for _, tpl := range templates {
			p := policyFrom(t, tpl.src)
			raw := strings.ReplaceAll(tpl.src, "{x}", x)
			u, err := p.checkURL("tokenUri", raw, []inputValue{{"x", x}}, nil)
			if err != nil {
				continue
			}
			host := hostKey(u)
			if tpl.suffix == "" || !strings.HasSuffix(host, tpl.suffix) {
				t.Fatalf("template %s with %q: accepted host %q", tpl.src, x, host)
			}
		}
	})
}
