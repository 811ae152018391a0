package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
)

const redirectURI = "http://127.0.0.1:8765/callback"

// oauthConnector is an oauth2 connector for the in-process authorization
// server; extra is appended to getOAuthConfig's mapping.
func oauthConnector(srv *oauthtest.Server, extra string) string {
	return strings.NewReplacer("{{AUTH}}", srv.AuthorizeURL, "{{TOKEN}}", srv.TokenURL, "{{URL}}", srv.URL, "{{EXTRA}}", extra).Replace(`name: C
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: {{AUTH}}
      tokenUri: {{TOKEN}}
{{EXTRA}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`)
}

var clientParams = map[string]any{"clientId": "client-1", "clientSecret": "secret-1"}

// authorizeConnection runs the whole authorization code flow against srv.
func authorizeConnection(t testing.TB, e *Engine, srv *oauthtest.Server, conn Connection) map[string]any {
	t.Helper()
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	cb := srv.Authorize(t, req.URL)
	creds, err := e.CompleteAuthorization(ctx, conn, cb.Query(), redirectURI, req.State, req.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true, RotateRefreshTokens: true})
	e := newEngine(t, nil, oauthConnector(srv, "      scopes: [read, write]\n"))
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	ctx := context.Background()

	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(req.URL)
	q := u.Query()
	if q.Get("code_challenge") != oauth2.S256Challenge(req.Verifier) || q.Get("code_challenge_method") != "S256" || q.Get("state") != req.State || q.Get("scope") != "read write" || q.Get("redirect_uri") != redirectURI {
		t.Errorf("authorization URL query: %v", q)
	}
	cb := srv.Authorize(t, req.URL)

	// A wrong verifier must fail: PKCE is what binds the code to this client.
	_, err = e.CompleteAuthorization(ctx, conn, cb.Query(), redirectURI, req.State, "wrong-verifier-wrong-verifier-wrong-verifier-00")
	if err == nil || strings.Contains(err.Error(), cb.Query().Get("code")) {
		t.Fatalf("wrong verifier: %v", err)
	}
	// A state that does not match is refused before any token request.
	before := srv.TokenRequests()
	if _, err := e.CompleteAuthorization(ctx, conn, cb.Query(), redirectURI, "other-state", req.Verifier); err == nil || srv.TokenRequests() != before {
		t.Fatalf("state mismatch: %v", err)
	}

	// The real flow, then a request to a resource the server protects.
	creds := authorizeConnection(t, e, srv, conn)
	if creds["access_token"] == "" || creds["refresh_token"] == "" || creds["expires_at"] == nil {
		t.Fatalf("credentials: %v", keys(creds))
	}
	conn.Credentials = creds
	me := get(t, mustClient(t, e, conn), "/api/me")
	if me["user"] != oauthtest.UserID {
		t.Errorf("resource answered %v", me)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCallbackErrorIsTyped(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{DenyAuthorization: true})
	e := newEngine(t, nil, oauthConnector(srv, ""))
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	req, err := e.AuthorizationURL(context.Background(), conn, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	cb := srv.Authorize(t, req.URL)
	_, err = e.CompleteAuthorization(context.Background(), conn, cb.Query(), redirectURI, req.State, req.Verifier)
	var ce *oauth2.CallbackError
	if !errors.As(err, &ce) || ce.Code != "access_denied" {
		t.Errorf("err = %v", err)
	}
}

// fakeClock lets tests move the engine's time past a token's expiry.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }
func withClock(e *Engine) *fakeClock {
	c := &fakeClock{}
	c.now.Store(time.Now().UnixNano())
	e.now = c.Now
	return c
}

func TestRefreshIsProactiveAndRotationSafe(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: true})
	e := newEngine(t, nil, oauthConnector(srv, ""))
	clock := withClock(e)
	conn := Connection{ID: "conn-1", Connector: "c", ConnectorParameters: clientParams}
	conn.Credentials = authorizeConnection(t, e, srv, conn)
	firstRefresh := conn.Credentials["refresh_token"]
	cl := mustClient(t, e, conn)
	get(t, cl, "/api/me")
	if srv.Grants("refresh_token") != 0 {
		t.Fatal("a valid token was refreshed")
	}
	// Within the refresh margin of expiry: renewed before the request.
	clock.Advance(time.Hour - 30*time.Second)
	get(t, cl, "/api/me")
	if srv.Grants("refresh_token") != 1 || cl.Credentials()["refresh_token"] == firstRefresh {
		t.Fatalf("refreshes %d", srv.Grants("refresh_token"))
	}
	// The store had the new credentials before they were used, and a second
	// client for the same connection starts from them.
	rec, err := e.store.Get(context.Background(), "conn-1")
	if err != nil || rec.Credentials["refresh_token"] != cl.Credentials()["refresh_token"] {
		t.Fatalf("store: %v %v", rec, err)
	}
	if rec.State.Status != store.StatusConnected || rec.State.LastError != "" || !rec.State.NextRefresh.After(clock.Now()) {
		t.Errorf("stored state = %+v", rec.State)
	}
	other := mustClient(t, e, Connection{ID: "conn-1", Connector: "c", ConnectorParameters: clientParams, Credentials: conn.Credentials})
	if other.Credentials()["refresh_token"] != cl.Credentials()["refresh_token"] {
		t.Error("a client for a stored connection ignored the store")
	}
	if srv.InvalidGrants() != 0 {
		t.Errorf("%d invalid_grant answers", srv.InvalidGrants())
	}
}

func TestReactiveRefreshOn401(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: true})
	e := newEngine(t, nil, oauthConnector(srv, ""))
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	conn.Credentials = authorizeConnection(t, e, srv, conn)
	conn.Credentials["access_token"] = "revoked-by-the-provider"
	cl := mustClient(t, e, conn)
	if me := get(t, cl, "/api/me"); me["user"] != oauthtest.UserID {
		t.Errorf("after refresh: %v", me)
	}
	if srv.Grants("refresh_token") != 1 {
		t.Errorf("refreshes %d", srv.Grants("refresh_token"))
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	e := newEngine(t, nil, strings.Replace(oauthConnector(srv, "      grantType: client_credentials\n"), "      authorizeUri: "+srv.AuthorizeURL+"\n", "", 1))
	clock := withClock(e)
	cl := mustClient(t, e, Connection{Connector: "c", ConnectorParameters: clientParams})
	if srv.TokenRequests() != 0 {
		t.Error("the token must be fetched on first use, not before")
	}
	for range 5 {
		if me := get(t, cl, "/api/me"); me["client_id"] != "client-1" {
			t.Fatalf("resource: %v", me)
		}
	}
	if srv.Grants("client_credentials") != 1 {
		t.Errorf("%d token requests for 5 requests", srv.Grants("client_credentials"))
	}
	clock.Advance(time.Hour)
	get(t, cl, "/api/me")
	if srv.Grants("client_credentials") != 2 {
		t.Errorf("an expired token was not refetched: %d", srv.Grants("client_credentials"))
	}
}

func TestTokenSourceAdapter(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	e := newEngine(t, nil, oauthConnector(srv, ""))
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	conn.Credentials = authorizeConnection(t, e, srv, conn)
	hc := xoauth2.NewClient(context.Background(), mustClient(t, e, conn).TokenSource())
	resp, err := hc.Get(srv.ResourceURL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
}

// expiredConnections authorises n connections and moves the clock past
// their expiry.
func expiredConnections(t testing.TB, n int, rotate bool) (*Engine, *oauthtest.Server, []*Client) {
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: rotate})
	e := newEngine(t, nil, oauthConnector(srv, ""))
	clock := withClock(e)
	clients := make([]*Client, n)
	for i := range clients {
		conn := Connection{ID: fmt.Sprintf("conn-%d", i), Connector: "c", ConnectorParameters: clientParams}
		conn.Credentials = authorizeConnection(t, e, srv, conn)
		clients[i] = mustClient(t, e, conn)
	}
	clock.Advance(2 * time.Hour)
	return e, srv, clients
}

func TestThousandGoroutinesOneRefresh(t *testing.T) {
	_, srv, clients := expiredConnections(t, 1, true)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 1000 {
		wg.Go(func() {
			if _, err := clients[0].Get(context.Background(), "/api/me"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := srv.Grants("refresh_token"); n != 1 || failed.Load() != 0 {
		t.Errorf("%d refresh requests, %d failed requests; want 1 and 0", n, failed.Load())
	}
}

func TestHundredConnectionsTwentyGoroutinesEach(t *testing.T) {
	_, srv, clients := expiredConnections(t, 100, true)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, cl := range clients {
		for range 20 {
			wg.Go(func() {
				if _, err := cl.Get(context.Background(), "/api/me"); err != nil {
					failed.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := srv.Grants("refresh_token"); n != 100 || failed.Load() != 0 {
		t.Errorf("%d refresh requests, %d failed requests; want 100 and 0", n, failed.Load())
	}
}

// TestRotatingRefreshTokensAreNeverLost sends requests for a minute on
// connections whose tokens live one second, from several clients per
// connection, against a server that revokes each refresh token when it is
// used. A lost or double-spent refresh token shows up as invalid_grant.
func TestRotatingRefreshTokensAreNeverLost(t *testing.T) {
	duration := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CONNSPEC_SOAK")); err == nil {
		duration = d
	} else if testing.Short() {
		duration = 5 * time.Second
	}
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: true, AccessTokenTTL: time.Second})
	e := newEngine(t, nil, oauthConnector(srv, "      refreshMargin: 0\n"))
	var clients []*Client
	for i := range 4 {
		conn := Connection{ID: fmt.Sprintf("soak-%d", i), Connector: "c", ConnectorParameters: clientParams}
		conn.Credentials = authorizeConnection(t, e, srv, conn)
		for range 3 { // three clients share each connection through the store
			clients = append(clients, mustClient(t, e, conn))
		}
	}
	deadline := time.Now().Add(duration)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for _, cl := range clients {
		for range 2 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					_, err := cl.Get(context.Background(), "/api/me")
					sent.Add(1)
					if err != nil {
						failed.Add(1)
						t.Log(err)
					}
					// Pace the senders to about 15,000 requests a minute.
					time.Sleep(time.Duration(len(clients)) * duration / 10000)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d requests over %v, %d refreshes", sent.Load(), duration, srv.Grants("refresh_token"))
	if srv.InvalidGrants() != 0 || failed.Load() != 0 {
		t.Errorf("%d invalid_grant answers, %d failed requests", srv.InvalidGrants(), failed.Load())
	}
	if duration >= 10*time.Second && sent.Load() < 10000*int64(duration/time.Minute) {
		t.Errorf("only %d requests sent", sent.Load())
	}
}

// tokenEndpoint is an httptest token endpoint whose answers a test scripts.
func tokenEndpoint(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api" {
			if r.Header.Get("Authorization") == "Bearer expired" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"auth":"` + r.Header.Get("Authorization") + `"}`))
			return
		}
		n := int(calls.Add(1)) - 1
		answers[min(n, len(answers)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func tokenConnector(srv *httptest.Server) string {
	return strings.ReplaceAll(`name: C
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: id-1, clientSecret: secret-1, authorizeUri: "{{URL}}/authorize", tokenUri: "{{URL}}/token"}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`, "{{URL}}", srv.URL)
}

func TestTransientRefreshFailureKeepsTheValidToken(t *testing.T) {
	srv, calls := tokenEndpoint(t,
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
		func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"access_token":"second","expires_in":"3600","token_type":"bearer"}`))
		})
	e := newEngine(t, srv, tokenConnector(srv))
	clock := withClock(e)
	expires := clock.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	cl := mustClient(t, e, Connection{Credentials: map[string]any{"access_token": "first", "refresh_token": "r-keep", "expires_at": expires}})
	// Ten seconds before expiry: due for renewal, still valid.
	clock.Advance(20 * time.Second)
	if got := get(t, cl, "/api"); got["auth"] != "Bearer first" {
		t.Errorf("after a 500 from the token endpoint: %v", got)
	}
	if got := get(t, cl, "/api"); got["auth"] != "Bearer second" {
		t.Errorf("after the retry: %v", got)
	}
	c := cl.Credentials()
	// The refresh response had no refresh_token: the old one is kept.
	if calls.Load() != 2 || c["refresh_token"] != "r-keep" || c["expires_at"] == expires {
		t.Errorf("calls %d, credentials %v", calls.Load(), c)
	}
}

func TestInvalidGrantMakesTheConnectionDefunct(t *testing.T) {
	srv, calls := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`))
	})
	e := newEngine(t, srv, tokenConnector(srv))
	cl := mustClient(t, e, Connection{ID: "c-9", Credentials: map[string]any{"access_token": "expired", "refresh_token": "r-revoked"}})
	for range 3 {
		_, err := cl.Get(context.Background(), "/api")
		var te *oauth2.TokenError
		if !errors.Is(err, ErrConnectionIsDefunct) || !errors.As(err, &te) || te.Code != "invalid_grant" || strings.Contains(err.Error(), "r-revoked") {
			t.Fatalf("err = %v", err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d token requests; a defunct connection must not retry its refresh token", calls.Load())
	}
	if rec, err := e.store.Get(context.Background(), "c-9"); err != nil || rec.State.Status != store.StatusNeedsReauth || !strings.Contains(rec.State.LastError, "invalid_grant") || strings.Contains(rec.State.LastError, "r-revoked") {
		t.Errorf("stored state = %+v, %v", rec.State, err)
	}
	// A new authorization stored for the connection revives it.
	if err := e.overwrite(context.Background(), "c-9", map[string]any{"access_token": "fresh"}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := e.store.Get(context.Background(), "c-9"); rec.State.Status != store.StatusConnected || rec.State.LastError != "" {
		t.Errorf("after re-authorization the state is %+v, want connected", rec.State)
	}
	if got := get(t, cl, "/api"); got["auth"] != "Bearer fresh" {
		t.Errorf("after re-authorization: %v", got)
	}
}

// Two engines (as two processes) share one SQLite store: the second finds
// the first's refreshed credentials in the store and uses them instead of
// spending the rotated refresh token again.
func TestTwoEnginesShareAnSQLiteStore(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: true})
	key := make([]byte, store.KeySize)
	c, _ := store.NewCipher(key)
	path := filepath.Join(t.TempDir(), "connspec.db")
	open := func() *store.SQLite {
		s, err := store.OpenSQLite(path, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := newEngine(t, nil, oauthConnector(srv, ""), WithStore(open()))
	b := newEngine(t, nil, oauthConnector(srv, ""), WithStore(open()))
	conn := Connection{ID: "shared-1", Connector: "c", ConnectorParameters: clientParams}
	conn.Credentials = authorizeConnection(t, a, srv, conn)
	clientA, clientB := mustClient(t, a, conn), mustClient(t, b, conn)
	clockA, clockB := withClock(a), withClock(b)
	clockA.Advance(2 * time.Hour)
	get(t, clientA, "/api/me") // A refreshes and stores
	clockB.Advance(2 * time.Hour)
	get(t, clientB, "/api/me") // B adopts what A stored
	if n := srv.Grants("refresh_token"); n != 1 || srv.InvalidGrants() != 0 {
		t.Errorf("%d refreshes, %d invalid_grant; want 1 and 0", n, srv.InvalidGrants())
	}
	if clientA.Credentials()["refresh_token"] != clientB.Credentials()["refresh_token"] {
		t.Error("the engines disagree on the refresh token")
	}
}

// Several engines (as several instances) on one PostgreSQL renew a shared
// connection exactly once per expiry: the advisory lock queues them and
// each re-reads the store. Runs when CONNSPEC_TEST_POSTGRES_URL is set
// (.ci/run starts a server).
func TestInstancesOnPostgresRefreshOnce(t *testing.T) {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set")
	}
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	pg, err := store.OpenPostgres(context.Background(), url, c)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	instancesRefreshOnce(t, []store.Store{pg, pg, pg})
}

// The same with three processes' worth of handles on one SQLite file: the
// renewal lease in the file queues them.
func TestInstancesOnSQLiteRefreshOnce(t *testing.T) {
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	path := filepath.Join(t.TempDir(), "connspec.db")
	var stores []store.Store
	for range 3 {
		s, err := store.OpenSQLite(path, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	instancesRefreshOnce(t, stores)
}

// instancesRefreshOnce runs one engine per store against a provider that
// rotates refresh tokens strictly: 30 concurrent requests on an expired
// shared connection must make one token request and no invalid_grant.
func instancesRefreshOnce(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: true})
	id := fmt.Sprintf("shared-%d", time.Now().UnixNano())
	var engines []*Engine
	var clocks []*fakeClock
	for _, st := range stores {
		// A slow token endpoint makes the instances' renewals overlap.
		e := newEngine(t, nil, oauthConnector(srv, ""), WithStore(st), WithTransport(slowTokens{}))
		engines = append(engines, e)
	}
	conn := Connection{ID: id, Connector: "c", ConnectorParameters: clientParams}
	conn.Credentials = authorizeConnection(t, engines[0], srv, conn)
	var clients []*Client
	for _, e := range engines {
		clients = append(clients, mustClient(t, e, conn))
		clocks = append(clocks, withClock(e))
	}
	for _, c := range clocks {
		c.Advance(2 * time.Hour)
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, cl := range clients {
		for range 10 {
			wg.Go(func() {
				if _, err := cl.Get(ctx, "/api/me"); err != nil {
					failed.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := srv.Grants("refresh_token"); n != 1 || srv.InvalidGrants() != 0 || failed.Load() != 0 {
		t.Errorf("%d refreshes, %d invalid_grant, %d failed requests; want 1, 0, 0", n, srv.InvalidGrants(), failed.Load())
	}
}

// slowTokens delays token requests by 100 ms.
type slowTokens struct{}

func (slowTokens) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/token") {
		time.Sleep(100 * time.Millisecond)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// flakyGets is a store whose reads fail while failing is set.
type flakyGets struct {
	store.Store
	failing atomic.Bool
}

func (f *flakyGets) Get(ctx context.Context, id string) (store.Record, error) {
	if f.failing.Load() {
		return store.Record{}, errors.New("store: connection reset by peer")
	}
	return f.Store.Get(ctx, id)
}

// A store that cannot be read when a renewal before expiry is due does not
// fail requests while the current token is still valid; the renewal happens
// once the store answers again.
func TestStoreFailureBeforeExpiryKeepsTheValidToken(t *testing.T) {
	srv, calls := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"second","expires_in":"3600","token_type":"bearer"}`))
	})
	st := &flakyGets{Store: store.NewMemory()}
	e := newEngine(t, srv, tokenConnector(srv), WithStore(st))
	clock := withClock(e)
	expires := clock.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	cl := mustClient(t, e, Connection{ID: "c-flaky", Credentials: map[string]any{"access_token": "first", "refresh_token": "r-1", "expires_at": expires}})
	clock.Advance(20 * time.Second) // due for renewal, still valid
	st.failing.Store(true)
	if got := get(t, cl, "/api"); got["auth"] != "Bearer first" {
		t.Errorf("with the store down before expiry: %v", got)
	}
	if calls.Load() != 0 {
		t.Errorf("%d token requests while the store could not be read; the refresh token must not be spent then", calls.Load())
	}
	st.failing.Store(false)
	if got := get(t, cl, "/api"); got["auth"] != "Bearer second" {
		t.Errorf("once the store answers: %v", got)
	}
	// After expiry the store failure is the request's failure.
	clock.Advance(2 * time.Hour)
	st.failing.Store(true)
	if _, err := cl.Get(context.Background(), "/api"); err == nil {
		t.Error("an expired token was used while the store could not be read")
	}
}
