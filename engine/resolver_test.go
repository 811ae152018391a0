package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const slackLike = `key: slack
name: Slack
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: x, clientSecret: y, authorizeUri: "https://slack.com/oauth/v2/authorize", tokenUri: "https://slack.com/api/oauth.v2.access"}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/api
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`

// slackAPI answers auth.test with the token it received.
func slackAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if strings.HasPrefix(tok, "revoked") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"token":%q}`, tok)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTwoIntegrationsOfOneConnector(t *testing.T) {
	srv := slackAPI(t)
	e := newEngine(t, srv, slackLike)
	if err := e.Integration("byo-slack", "slack"); err != nil {
		t.Fatal(err)
	}
	if err := e.Integration("our-slack", "slack"); err != nil {
		t.Fatal(err)
	}
	var seen []IntegrationInfo
	var mu sync.Mutex
	e.DefineAuthResolver("byo-slack", func(_ context.Context, run RunContext, in IntegrationInfo) (*AuthResult, error) {
		mu.Lock()
		seen = append(seen, in)
		mu.Unlock()
		return &AuthResult{Type: "oauth", Token: "xoxb-" + run.Account.ID}, nil
	})
	ctx := context.Background()
	byo, err := e.Client(ctx, Connection{Connector: "byo-slack", Account: &Account{ID: "acct-7"}})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := e.Client(ctx, Connection{Connector: "our-slack", Credentials: map[string]any{"access_token": "xoxb-ours"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, byo, "/auth.test"); got["token"] != "xoxb-acct-7" {
		t.Errorf("byo-slack sent %v", got)
	}
	if got := get(t, ours, "/auth.test"); got["token"] != "xoxb-ours" {
		t.Errorf("our-slack sent %v", got)
	}
	if len(seen) != 1 || seen[0] != (IntegrationInfo{ID: "byo-slack", Connector: "slack"}) {
		t.Errorf("resolver saw %v", seen)
	}
	// A resolver for the connector key serves integrations without one of
	// their own; the integration's own wins.
	e.DefineAuthResolver("slack", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
		return &AuthResult{Type: "oauth", Token: "xoxb-connector-wide"}, nil
	})
	ours2, err := e.Client(ctx, Connection{Connector: "our-slack", Account: &Account{ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, ours2, "/auth.test"); got["token"] != "xoxb-connector-wide" {
		t.Errorf("connector-wide resolver: %v", got)
	}
	byo2, _ := e.Client(ctx, Connection{Connector: "byo-slack", Account: &Account{ID: "acct-8"}})
	if got := get(t, byo2, "/auth.test"); got["token"] != "xoxb-acct-8" {
		t.Errorf("integration resolver must win: %v", got)
	}
}

func TestUnresolvedAuthMessages(t *testing.T) {
	e := newEngine(t, slackAPI(t), slackLike)
	e.Integration("byo-slack", "slack")
	cause := errors.New("user lookup timed out")
	ctx := context.Background()
	e.DefineAuthResolver("byo-slack", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
		if run.Account == nil {
			return nil, nil
		}
		return nil, cause
	})
	_, err := e.Client(ctx, Connection{Connector: "byo-slack"})
	if !errors.Is(err, ErrUnresolvedAuth) || err.Error() != "auth could not be resolved for byo-slack: resolver returned no credentials" {
		t.Errorf("nil result: %v", err)
	}
	_, err = e.Client(ctx, Connection{Connector: "byo-slack", Account: &Account{ID: "a"}})
	if !errors.Is(err, ErrUnresolvedAuth) || !errors.Is(err, cause) || err.Error() != "auth could not be resolved for byo-slack: resolver failed: user lookup timed out" {
		t.Errorf("error result: %v", err)
	}
}

// hostRewrite sends every request to a test server, keeping the Host the
// client meant, so tests can see which host credentials were for.
type hostRewrite struct{ target string }

func (h hostRewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = r.URL.Host
	r.URL.Scheme, r.URL.Host = "http", strings.TrimPrefix(h.target, "http://")
	return http.DefaultTransport.RoundTrip(r)
}

func TestAdditionalFieldsBuildTheBaseURI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"host":%q,"token":%q,"path":%q}`, r.Host, r.Header.Get("X-Shopify-Access-Token"), r.URL.Path)
	}))
	defer srv.Close()
	e := newEngine(t, nil, `key: shopify
name: Shopify
auth:
  type: client-credentials
  credentialsSchema:
    type: object
    properties: {accessToken: {type: string}, shop: {type: string}}
    required: [accessToken]
  makeApiClient:
    mapping:
      baseUri: {$tpl: {template: "https://{shop}.myshopify.com/admin/api/2024-07", values: {shop: {$var: credentials.shop}}}}
      headers: {X-Shopify-Access-Token: {$var: credentials.accessToken}}
`, WithTransport(hostRewrite{srv.URL}))
	e.DefineAuthResolver("shopify", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
		return &AuthResult{Type: "apiKey", Token: "shpat_" + run.Account.ID, AdditionalFields: map[string]string{"shop": run.Account.Metadata["shop"].(string)}}, nil
	})
	cl, err := e.Client(context.Background(), Connection{Connector: "shopify", Account: &Account{ID: "u1", Metadata: map[string]any{"shop": "acme"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := get(t, cl, "/shop.json")
	if got["host"] != "acme.myshopify.com" || got["token"] != "shpat_u1" || got["path"] != "/admin/api/2024-07/shop.json" {
		t.Errorf("request: %v", got)
	}
	// A shop field that would move the host is refused like user input.
	e.DefineAuthResolver("shopify", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
		return &AuthResult{Type: "apiKey", Token: "t", AdditionalFields: map[string]string{"shop": "evil.com#"}}, nil
	})
	if _, err := e.Client(context.Background(), Connection{Connector: "shopify", Account: &Account{ID: "u2"}}); err == nil || !strings.Contains(err.Error(), "would change the API host") {
		t.Errorf("hostile shop: %v", err)
	}
}

func TestResolverCacheAndForceRefreshOn401(t *testing.T) {
	e := newEngine(t, slackAPI(t), slackLike)
	var calls, forced atomic.Int32
	e.DefineAuthResolver("slack", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
		n := calls.Add(1)
		if run.ForceRefresh {
			forced.Add(1)
		}
		tok := "revoked-1" // the first token the API rejects
		if n > 1 {
			tok = "good-" + fmt.Sprint(n)
		}
		return &AuthResult{Type: "oauth", Token: tok, TTL: time.Hour}, nil
	})
	ctx := context.Background()
	cl, err := e.Client(ctx, Connection{Connector: "slack", Account: &Account{ID: "a1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, cl, "/auth.test"); got["token"] != "good-2" {
		t.Errorf("after a 401: %v", got)
	}
	if calls.Load() != 2 || forced.Load() != 1 {
		t.Errorf("calls %d, forced %d", calls.Load(), forced.Load())
	}
	// The fresh result is cached for the account: a new client reuses it.
	cl2, _ := e.Client(ctx, Connection{Connector: "slack", Account: &Account{ID: "a1"}})
	if got := get(t, cl2, "/auth.test"); got["token"] != "good-2" || calls.Load() != 2 {
		t.Errorf("cached: %v after %d calls", got, calls.Load())
	}
}

func TestThousandCallsHundredAccountsResolveOncePerAccount(t *testing.T) {
	e := newEngine(t, slackAPI(t), slackLike)
	var calls sync.Map
	var total atomic.Int32
	e.DefineAuthResolver("slack", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
		total.Add(1)
		n, _ := calls.LoadOrStore(run.Account.ID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		time.Sleep(5 * time.Millisecond) // a slow lookup invites duplicate calls
		return &AuthResult{Type: "oauth", Token: "tok-" + run.Account.ID, TTL: time.Minute}, nil
	})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 1000 {
		wg.Go(func() {
			acct := fmt.Sprintf("acct-%d", i%100)
			cl, err := e.Client(context.Background(), Connection{Connector: "slack", Account: &Account{ID: acct}})
			if err != nil {
				failed.Add(1)
				return
			}
			if got, err := cl.Get(context.Background(), "/auth.test"); err != nil || got.(map[string]any)["token"] != "tok-"+acct {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if total.Load() != 100 || failed.Load() != 0 {
		t.Errorf("%d resolver calls for 100 accounts, %d failures", total.Load(), failed.Load())
	}
}

// integration.app exports put `ui` beside `auth`, not inside it: an auth
// resolver's apiKey result fills the first required string field of that
// top-level schema (issue 13), not the fallback api_key.
func TestResolverAPIKeyFillsTheTopLevelUIField(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"key":%q}`, r.Header.Get("X-Api-Key"))
	}))
	defer srv.Close()
	e := newEngine(t, srv, `key: exported
name: Exported
ui:
  schema:
    type: object
    properties: {token: {type: string}}
    required: [token]
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {X-Api-Key: {$var: credentials.token}}
`)
	e.DefineAuthResolver("exported", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
		return &AuthResult{Type: "apiKey", Token: "key-" + run.Account.ID}, nil
	})
	cl, err := e.Client(context.Background(), Connection{Connector: "exported", Account: &Account{ID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, cl, "/me"); got["key"] != "key-u1" {
		t.Errorf("the API got %v; the resolver's key did not reach credentials.token", got)
	}
}
