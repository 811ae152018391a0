package server_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
)

// TestTwoServersOnPostgresShareRefreshes is the acceptance test of running
// several `connspec serve` instances on one PostgreSQL: two servers (two
// engines, two stores on the same database and schema, one secret key)
// proxy for one OAuth 2.0 connection whose access tokens live one second,
// against a provider that rotates refresh tokens (each is revoked when
// used). Twenty clients, alternating between the servers, send requests
// through the proxy for CONNSPEC_SOAK (default 30 s, 5 s with -short).
//
// No request may fail, the provider must never answer invalid_grant (a
// refresh token spent twice, by the two servers or by two requests of one,
// is refused once rotated), and the refreshes must keep pace with the
// expiries: about one per token lifetime, each made by exactly one server.
func TestTwoServersOnPostgresShareRefreshes(t *testing.T) {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set (.ci/postgres.sh starts a server)")
	}
	duration := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CONNSPEC_SOAK")); err == nil {
		duration = d
	} else if testing.Short() {
		duration = 5 * time.Second
	}
	const tokenTTL = time.Second
	const clients = 20

	srv := oauthtest.New(t, oauthtest.Options{AccessTokenTTL: tokenTTL, RotateRefreshTokens: true})
	cipher := testCipher(t)
	pgURL := multiSchema(t, url)
	opts := func() envOptions {
		return envOptions{
			connectors: map[string]string{"oauthy": oauthConnector(srv)},
			params:     map[string]map[string]any{"oauthy": {"clientId": "client-1", "clientSecret": "secret-1"}},
			store:      multiOpenPostgres(t, pgURL, cipher),
			cipher:     cipher,
		}
	}
	a, b := newEnv(t, opts()), newEnv(t, opts())

	// Connect once, through server A's engine: the credentials land in the
	// shared store, the connection in the shared catalog.
	ctx := context.Background()
	id := fmt.Sprintf("conn_multi%d", time.Now().UnixNano())
	conn := engine.Connection{ID: id, Connector: "oauthy", ConnectorParameters: map[string]any{"clientId": "client-1", "clientSecret": "secret-1"}, Account: &engine.Account{ID: "acc-multi"}}
	const redirect = "http://127.0.0.1/oauth/callback"
	req, err := a.Engine.AuthorizationURL(ctx, conn, redirect)
	if err != nil {
		t.Fatal(err)
	}
	cb := srv.Authorize(t, req.URL)
	if _, err := a.Engine.CompleteAuthorization(ctx, conn, cb.Query(), redirect, req.State, req.Verifier); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "oauthy", Account: "acc-multi", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*env{a, b} {
		if status, body := e.api("GET", "/v1/connections/"+id, nil); status != http.StatusOK || !strings.Contains(string(body), `"state": "connected"`) {
			t.Fatalf("GET connection from %s: %d %s", e.URL, status, body)
		}
	}

	// Enough idle connections for every sender: without them each request
	// would dial anew and a long soak would run out of ephemeral ports.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	grantsBefore := srv.Grants("refresh_token")
	var sent, failed [2]atomic.Int64
	var firstFailures multiFailures
	began := time.Now()
	deadline := began.Add(duration)
	var wg sync.WaitGroup
	for i := range clients {
		e := []*env{a, b}[i%2]
		wg.Go(func() {
			for time.Now().Before(deadline) {
				sent[i%2].Add(1)
				if msg := multiProxyGet(client, e.URL+"/v1/proxy/"+id+"/api/me"); msg != "" {
					failed[i%2].Add(1)
					firstFailures.add(fmt.Sprintf("server %c, %v after start: %s", 'A'+i%2, time.Since(began).Round(time.Millisecond), msg))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)

	refreshes := srv.Grants("refresh_token") - grantsBefore
	expiries := elapsed.Seconds() / tokenTTL.Seconds()
	total := sent[0].Load() + sent[1].Load()
	t.Logf("%d proxy requests in %v (%.0f/s): %d through A, %d through B; %d failed",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), sent[0].Load(), sent[1].Load(), failed[0].Load()+failed[1].Load())
	t.Logf("%d refresh_token grants for %.1f token lifetimes (%.2f per lifetime), %d token requests in all, %d invalid_grant",
		refreshes, expiries, float64(refreshes)/expiries, srv.TokenRequests(), srv.InvalidGrants())

	if n := failed[0].Load() + failed[1].Load(); n != 0 {
		t.Errorf("%d of %d proxy requests failed; the first:\n%s", n, total, firstFailures.String())
	}
	if sent[0].Load() == 0 || sent[1].Load() == 0 {
		t.Errorf("requests through A: %d, through B: %d; want both busy", sent[0].Load(), sent[1].Load())
	}
	if n := srv.InvalidGrants(); n != 0 {
		t.Errorf("%d invalid_grant answers: a rotated refresh token was spent twice", n)
	}
	// The bound. The connector keeps the default refresh margin (60 s),
	// which exceeds the token's life, so the engine renews "never sooner
	// than halfway through what is left" (engine/client.go buildState):
	// renewAt = expiresAt - min(margin, left/2) = (expiresAt + builtAt)/2.
	// A token received at t has expiresAt = t+1s (now + expires_in), and
	// whichever server adopts it from the store builds its state at or after
	// t, so no one renews it before t+0.5s: refreshes come at most every
	// 0.5 s (plus a token round trip), at most 2 per lifetime, +2 for the
	// authorization's token (which may be renewed at once) and the last.
	// Each refresh spends a different refresh token: were the servers
	// renewing the same expiry apart, the rotated token would be refused
	// and invalid_grant would show it. (This bound needs expires_at stored
	// with sub-second precision: cut to whole seconds, a token received at
	// n+0.9 s would look like it expires at n+1 s and the halving would
	// renew it ever faster until the second turns, 4 to 7 times a second.)
	// Requests run without pause and every successful one carried a token
	// younger than its 1 s lifetime, so the D seconds of traffic need at
	// least D/1s tokens: refreshes >= floor(D/1s) - 1 (the authorization's
	// token covers the first second); half of that leaves room for a stall
	// of the race detector or the machine.
	maxRefreshes := int64(math.Ceil(2*expiries)) + 2
	minRefreshes := int64(expiries / 2)
	if refreshes > maxRefreshes || refreshes < minRefreshes {
		t.Errorf("%d refresh_token grants over %.1f token lifetimes; want %d..%d (about one per expiry, renewed no sooner than halfway)",
			refreshes, expiries, minRefreshes, maxRefreshes)
	}

	// Every grant is accounted for by exactly one instance, and every
	// request by the instance it was sent to. The renewer tends to stay the
	// same (it computed the new token's renewal time first, the other
	// adopts it later), so in a short run one server may refresh nothing:
	// a counter it never touched is absent from its /metrics, which counts
	// as zero.
	var perServer [2]int64
	for i, e := range []*env{a, b} {
		text := e.metricsText()
		perServer[i], _ = multiMetric(text, "connspec_refreshes_total", `connector="oauthy"`)
		if f, _ := multiMetric(text, "connspec_refresh_failures_total", `connector="oauthy"`); f != 0 {
			t.Errorf("server %c: %d failed refreshes", 'A'+i, f)
		}
		if n, _ := multiMetric(text, "connspec_proxy_requests_total", `code="200",connector="oauthy"`); n != sent[i].Load() {
			t.Errorf("server %c: /metrics counts %d proxied 200s, %d requests were sent to it", 'A'+i, n, sent[i].Load())
		}
	}
	t.Logf("refreshes by server A: %d, by server B: %d", perServer[0], perServer[1])
	if perServer[0]+perServer[1] != srv.Grants("refresh_token") {
		t.Errorf("the servers' connspec_refreshes_total add up to %d + %d, the provider saw %d refresh_token grants",
			perServer[0], perServer[1], srv.Grants("refresh_token"))
	}
	for i, e := range []*env{a, b} {
		e.assertNoCanaries()
		if status, body := e.api("GET", "/v1/connections/"+id, nil); status != http.StatusOK || !strings.Contains(string(body), `"state": "connected"`) {
			t.Errorf("server %c: connection after the soak: %d %s", 'A'+i, status, body)
		}
	}
}

// multiProxyGet sends one proxy request and returns "" when it succeeded
// (200 with the provider's answer), else what went wrong.
func multiProxyGet(client *http.Client, url string) string {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := client.Do(req)
	if err != nil {
		return "transport error: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return fmt.Sprintf("%d, reading the body: %v", resp.StatusCode, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("%d %.300s", resp.StatusCode, body)
	case !strings.Contains(string(body), oauthtest.UserID):
		return fmt.Sprintf("200 without the user: %.300s", body)
	}
	return ""
}

// multiFailures keeps the first few failures for the report.
type multiFailures struct {
	mu   sync.Mutex
	msgs []string
}

func (f *multiFailures) add(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.msgs) < 5 {
		f.msgs = append(f.msgs, msg)
	}
}

func (f *multiFailures) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.msgs, "\n")
}

// multiSchema creates a fresh schema on the test server, dropped when the
// test ends, and returns url with search_path set to it (as the store
// tests do).
func multiSchema(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("multi%d", time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the stores close (cleanups run last-in first-out)
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("dropping test schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// multiOpenPostgres opens a store on url, closed when the test ends.
func multiOpenPostgres(t *testing.T, url string, c *store.Cipher) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(context.Background(), url, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// multiMetric reads the value of a counter with the given labels (as
// the Prometheus text format writes them: sorted, quoted) from text.
func multiMetric(text, name, labels string) (int64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+"{"+labels+"}") + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return int64(v), true
}
