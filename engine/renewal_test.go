package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/jackc/pgx/v5"
)

// renewProvider is a loopback token endpoint that rotates refresh tokens
// strictly: each one is good for one refresh; presenting it again is
// invalid_grant and counted, as a double renewal. /api/me accepts only a
// live access token.
type renewProvider struct {
	srv *httptest.Server
	ttl time.Duration // lifetime of the access tokens it issues
	// extra is added to every token answer (x_refresh_token_expires_in).
	extra map[string]any

	mu       sync.Mutex
	refresh  map[string]string // unspent refresh token -> connection
	spent    map[string]bool
	access   map[string]time.Time
	renewals map[string][]time.Time // per connection
	// fail answers a connection's refresh with this status (503, or 400
	// for invalid_grant) while it returns one.
	fail     func(conn string) int
	attempts map[string]int

	reused    atomic.Int64 // spent refresh tokens presented again
	apiCalls  atomic.Int64
	apiDenied atomic.Int64
}

func newRenewProvider(t testing.TB, ttl time.Duration) *renewProvider {
	p := &renewProvider{ttl: ttl, refresh: map[string]string{}, spent: map[string]bool{}, access: map[string]time.Time{},
		renewals: map[string][]time.Time{}, attempts: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func randomToken(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// issueLocked makes a connection's next tokens.
func (p *renewProvider) issueLocked(conn string, ttl time.Duration) (access, refresh string, exp time.Time) {
	access, refresh = randomToken("at-"), randomToken("rt-")
	exp = time.Now().Add(ttl)
	p.access[access] = exp
	p.refresh[refresh] = conn
	return access, refresh, exp
}

func (p *renewProvider) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/token":
		r.ParseForm()
		rt := r.PostForm.Get("refresh_token")
		p.mu.Lock()
		conn, ok := p.refresh[rt]
		if !ok {
			if p.spent[rt] {
				p.reused.Add(1)
			}
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		p.attempts[conn]++
		if p.fail != nil {
			if status := p.fail(conn); status != 0 {
				p.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				if status == http.StatusBadRequest {
					w.Write([]byte(`{"error":"invalid_grant"}`))
				} else {
					w.Write([]byte(`{"error":"temporarily_unavailable"}`))
				}
				return
			}
		}
		delete(p.refresh, rt)
		p.spent[rt] = true
		access, refresh, _ := p.issueLocked(conn, p.ttl)
		p.renewals[conn] = append(p.renewals[conn], time.Now())
		p.mu.Unlock()
		answer := map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": p.ttl.Seconds()}
		for k, v := range p.extra {
			answer[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	case "/api/me":
		p.apiCalls.Add(1)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		exp, ok := p.access[tok]
		p.mu.Unlock()
		if !ok || time.Now().After(exp) {
			p.apiDenied.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	default:
		http.NotFound(w, r)
	}
}

// counts returns the renewals of each connection.
func (p *renewProvider) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for c, ts := range p.renewals {
		out[c] = len(ts)
	}
	return out
}

const renewConnector = `name: C
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

// renewConnection is how the tests' schedulers turn catalog entries into
// connections: with the connector's client parameters.
func renewConnection(info store.ConnectionInfo) Connection {
	conn := catalogConnection(info)
	conn.ConnectorParameters = clientParams
	return conn
}

// seedRenewals stores n connections whose access tokens expire after life
// (their planned renewal half-way), as serve would have after connecting them.
func seedRenewals(t testing.TB, p *renewProvider, s store.Store, n int, life time.Duration) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		id := fmt.Sprintf("r-%05d", i)
		ids[i] = id
		p.mu.Lock()
		access, refresh, exp := p.issueLocked(id, life)
		p.mu.Unlock()
		creds := map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_at": formatExpiresAt(exp)}
		if _, err := s.CompareAndSwap(ctx, id, 0, creds); err != nil {
			t.Fatal(err)
		}
		if err := s.(store.Catalog).PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "c"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetState(ctx, id, store.State{Status: store.StatusConnected, NextRefresh: exp.Add(-life / 2)}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// sqliteStores opens n handles on one SQLite file, as n processes would.
func sqliteStores(t testing.TB, n int) []store.Store {
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	path := filepath.Join(t.TempDir(), "connspec.db")
	var out []store.Store
	for range n {
		s, err := store.OpenSQLite(path, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// postgresStores opens n pools on a fresh schema of the test server
// (dropped at the end), or skips without CONNSPEC_TEST_POSTGRES_URL.
func postgresStores(t testing.TB, n int) []store.Store {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("renew%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	var out []store.Store
	for range n {
		pg, err := store.OpenPostgres(ctx, url+sep+"search_path="+schema, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		out = append(out, pg)
	}
	return out
}

// fastRenewal are scheduler settings for tests: everything due within a
// second is renewed, quickly.
func fastRenewal(o RenewalOptions) RenewalOptions {
	if o.KeepFresh == nil {
		o.KeepFresh = []string{"*"}
	}
	if o.Ahead == 0 {
		o.Ahead = time.Second
	}
	if o.Rate == 0 {
		o.Rate = 2000
	}
	o.Concurrency, o.Interval = 8, 50*time.Millisecond
	if o.ClaimFor == 0 {
		o.ClaimFor = 10 * time.Second
	}
	o.Connection = renewConnection
	return o
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBackgroundRenewalTwoInstancesSQLite(t *testing.T) {
	backgroundRenewalTwoInstances(t, sqliteStores(t, 2))
}

func TestBackgroundRenewalTwoInstancesPostgres(t *testing.T) {
	backgroundRenewalTwoInstances(t, postgresStores(t, 2))
}

// backgroundRenewalTwoInstances runs two schedulers (one engine per store
// handle, as two serve instances) over 200 connections whose access tokens
// all fall due together, while requests on the same connections go on
// from both engines (renewing at request time what the schedulers have
// not reached yet). Every connection must be renewed exactly once, no
// refresh token presented twice, and no request refused.
func backgroundRenewalTwoInstances(t *testing.T, stores []store.Store) {
	const n = 200
	p := newRenewProvider(t, time.Hour)
	ids := seedRenewals(t, p, stores[0], n, 4*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var engines []*Engine
	var background atomic.Int64
	perInstance := make([]atomic.Int64, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		e := newEngine(t, p.srv, renewConnector, WithStore(s))
		engines = append(engines, e)
		// Slow enough that request-time renewals overtake the schedulers
		// on part of the connections.
		o := fastRenewal(RenewalOptions{Rate: 60, OnRenewal: func(id string, err error) {
			if err != nil {
				t.Errorf("background renewal of %s: %v", id, err)
			}
			background.Add(1)
			perInstance[i].Add(1)
		}})
		wg.Go(func() { e.RunRenewal(ctx, o) })
	}
	// Request-time traffic: clients made before the tokens fall due, so
	// they renew at request time whatever the store says.
	var requests sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		e := engines[w%len(engines)]
		var clients []*Client
		for i := w; i < n; i += 4 {
			clients = append(clients, mustClient(t, e, renewConnection(store.ConnectionInfo{ID: ids[i], Connector: "c"})))
		}
		requests.Go(func() {
			for {
				for _, cl := range clients {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := cl.Get(ctx, "/api/me"); err != nil {
						t.Errorf("request on %s: %v", cl.conn.ID, err)
						return
					}
				}
			}
		})
	}
	waitFor(t, 60*time.Second, "every connection renewed", func() bool { return len(p.counts()) == n })
	time.Sleep(500 * time.Millisecond) // a second renewal would show now
	close(stop)
	requests.Wait()
	cancel()
	wg.Wait()
	for _, id := range ids {
		if c := p.counts()[id]; c != 1 {
			t.Errorf("%s renewed %d times, want exactly 1", id, c)
		}
	}
	if r := p.reused.Load(); r != 0 {
		t.Errorf("%d refresh tokens presented twice (invalid_grant)", r)
	}
	if d := p.apiDenied.Load(); d != 0 {
		t.Errorf("%d API requests refused", d)
	}
	for i := range perInstance {
		if perInstance[i].Load() == 0 {
			t.Logf("scheduler %d renewed nothing", i)
		}
	}
	t.Logf("renewals per scheduler: %d and %d (the rest at request time); %d API requests",
		perInstance[0].Load(), perInstance[1].Load(), p.apiCalls.Load())
}

func TestBackgroundRenewalKilledInstanceSQLite(t *testing.T) {
	backgroundRenewalKilledInstance(t, sqliteStores(t, 2))
}

func TestBackgroundRenewalKilledInstancePostgres(t *testing.T) {
	backgroundRenewalKilledInstance(t, postgresStores(t, 2))
}

// An instance that claimed due connections and died before renewing them
// holds them until its claims lapse; then another instance renews them.
func backgroundRenewalKilledInstance(t *testing.T, stores []store.Store) {
	const n, claimFor = 30, 1500 * time.Millisecond
	p := newRenewProvider(t, time.Hour)
	ids := seedRenewals(t, p, stores[0], n, 2*time.Second)
	// The dead instance: it claimed everything and stopped.
	claimed, err := stores[0].(store.RenewalQueue).ClaimDue(context.Background(), store.DueQuery{Limit: 1000, ClaimFor: claimFor, FreshAhead: time.Hour, FreshAll: true})
	if err != nil || len(claimed) != n {
		t.Fatalf("the dead instance claimed %d of %d: %v", len(claimed), n, err)
	}
	died := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEngine(t, p.srv, renewConnector, WithStore(stores[1]))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.RunRenewal(ctx, fastRenewal(RenewalOptions{Ahead: time.Hour, ClaimFor: claimFor}))
	}()
	waitFor(t, 30*time.Second, "the other instance renewing every connection", func() bool { return len(p.counts()) == n })
	cancel()
	<-done
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		ts := p.renewals[id]
		if len(ts) != 1 {
			t.Errorf("%s renewed %d times, want 1", id, len(ts))
		} else if ts[0].Before(died.Add(claimFor - 100*time.Millisecond)) {
			t.Errorf("%s renewed %v after the claim, before it lapsed (%v)", id, ts[0].Sub(died), claimFor)
		}
	}
}

// QuickBooks tells the refresh token's lifetime in x_refresh_token_expires_in:
// it is recorded in the state, and background renewal is due a week before.
func TestRefreshTokenExpiryRecorded(t *testing.T) {
	for name, open := range map[string]func(testing.TB) store.Store{
		"memory":   func(testing.TB) store.Store { return store.NewMemory() },
		"sqlite":   func(t testing.TB) store.Store { return sqliteStores(t, 1)[0] },
		"postgres": func(t testing.TB) store.Store { return postgresStores(t, 1)[0] },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			p := newRenewProvider(t, time.Hour)
			const life = 8726400 // 101 days, QuickBooks' answer
			p.extra = map[string]any{"x_refresh_token_expires_in": life}
			ids := seedRenewals(t, p, s, 1, time.Hour)
			e := newEngine(t, p.srv, renewConnector, WithStore(s))
			before := time.Now()
			if err := e.Renew(context.Background(), renewConnection(store.ConnectionInfo{ID: ids[0], Connector: "c"})); err != nil {
				t.Fatal(err)
			}
			rec, err := s.Get(context.Background(), ids[0])
			if err != nil {
				t.Fatal(err)
			}
			want := before.Add(life * time.Second)
			if got := rec.State.RefreshExpiresAt; got.Before(want.Add(-time.Second)) || got.After(want.Add(5*time.Second)) {
				t.Errorf("RefreshExpiresAt = %v, want about %v", got, want)
			}
			week := 7 * 24 * time.Hour
			if got := rec.State.RefreshExpiresAt.Sub(rec.State.RenewBy); got < week || got > week+week/10 {
				t.Errorf("RenewBy is %v before the refresh token lapses, want 7 days (+ up to 10%% jitter)", got)
			}
			if got := rec.Credentials[RefreshTokenExpiresKey]; got == nil {
				t.Errorf("credentials keep no %s: %v", RefreshTokenExpiresKey, rec.Credentials)
			}
			if rec.State.Status != store.StatusConnected || rec.State.NextRefresh.IsZero() {
				t.Errorf("state %+v", rec.State)
			}
		})
	}
}

// A connection whose refresh token lapses soon is renewed by the scheduler
// even when nothing keeps it fresh; one whose refresh token the provider
// refuses is marked needs_reauth and left alone; one whose renewal fails
// for a passing reason is retried after a backoff, not hammered.
func TestBackgroundRenewalDeadlinesAndFailures(t *testing.T) {
	s := sqliteStores(t, 1)[0]
	p := newRenewProvider(t, time.Hour)
	ids := seedRenewals(t, p, s, 3, time.Hour) // access tokens far from due
	lapsing, refused, flaky := ids[0], ids[1], ids[2]
	ctx := context.Background()
	for _, id := range ids {
		// Each one's refresh token lapses in a day: due now (half its life
		// is less than a week, and it is past).
		st := store.State{Status: store.StatusConnected, NextRefresh: time.Now().Add(30 * time.Minute),
			RefreshExpiresAt: time.Now().Add(24 * time.Hour), RenewBy: time.Now().Add(-time.Second)}
		if err := s.SetState(ctx, id, st); err != nil {
			t.Fatal(err)
		}
	}
	var flakyFails atomic.Int64
	p.fail = func(conn string) int {
		switch conn {
		case refused:
			return http.StatusBadRequest
		case flaky:
			if flakyFails.Add(1) <= 2 {
				return http.StatusServiceUnavailable
			}
		}
		return 0
	}
	e := newEngine(t, p.srv, renewConnector, WithStore(s))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Nothing kept fresh: only the refresh tokens' deadlines count.
		e.RunRenewal(rctx, fastRenewal(RenewalOptions{KeepFresh: []string{"other"}, Backoff: 300 * time.Millisecond}))
	}()
	waitFor(t, 20*time.Second, "the lapsing and the flaky connection renewed", func() bool {
		c := p.counts()
		return c[lapsing] == 1 && c[flaky] == 1
	})
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	p.mu.Lock()
	attempts := maps.Clone(p.attempts)
	p.mu.Unlock()
	if attempts[refused] != 1 {
		t.Errorf("the refused connection was tried %d times, want 1", attempts[refused])
	}
	if attempts[flaky] != 3 {
		t.Errorf("the flaky connection was tried %d times, want 3 (2 failures, backoff, success)", attempts[flaky])
	}
	if attempts[lapsing] != 1 {
		t.Errorf("the lapsing connection was tried %d times, want 1", attempts[lapsing])
	}
	rec, _ := s.Get(ctx, refused)
	if rec.State.Status != store.StatusNeedsReauth {
		t.Errorf("refused connection's status %q, want needs_reauth", rec.State.Status)
	}
	rec, _ = s.Get(ctx, lapsing)
	if !rec.State.RenewBy.IsZero() {
		t.Errorf("after renewal the lapsing connection's RenewBy is %v; the provider told no new lapse", rec.State.RenewBy)
	}
}

// A connector's known inactivity limit (Xero's 60 days) sets when the
// refresh token lapses when the provider does not say; a rotated refresh
// token whose lapse is not told does not inherit the old one's.
func TestRefreshTokenInactivityLimit(t *testing.T) {
	s := store.NewMemory()
	p := newRenewProvider(t, time.Hour)
	ids := seedRenewals(t, p, s, 1, time.Hour)
	ctx := context.Background()
	rec, _ := s.Get(ctx, ids[0])
	rec.Credentials[RefreshTokenExpiresKey] = formatExpiresAt(time.Now().Add(time.Hour))
	if _, err := s.CompareAndSwap(ctx, ids[0], rec.Version, rec.Credentials); err != nil {
		t.Fatal(err)
	}
	const limit = 60 * 24 * time.Hour
	e := newEngine(t, p.srv, renewConnector, WithStore(s), WithInactivityLimits(map[string]time.Duration{"c": limit}))
	before := time.Now()
	if err := e.Renew(ctx, renewConnection(store.ConnectionInfo{ID: ids[0], Connector: "c"})); err != nil {
		t.Fatal(err)
	}
	rec, _ = s.Get(ctx, ids[0])
	if _, ok := rec.Credentials[RefreshTokenExpiresKey]; ok {
		t.Errorf("the new refresh token inherited the old one's lapse: %v", rec.Credentials[RefreshTokenExpiresKey])
	}
	if got := rec.State.RefreshExpiresAt.Sub(before); got < limit || got > limit+5*time.Second {
		t.Errorf("RefreshExpiresAt is %v from the renewal, want the 60-day limit", got)
	}
	week := 7 * 24 * time.Hour
	if got := rec.State.RefreshExpiresAt.Sub(rec.State.RenewBy); got < week || got > week+week/10 {
		t.Errorf("RenewBy is %v before the lapse, want 7 days (+ up to 10%%)", got)
	}
}

func TestBackgroundRenewalShortTokensSQLite(t *testing.T) {
	backgroundRenewalShortTokens(t, sqliteStores(t, 2))
}

func TestBackgroundRenewalShortTokensPostgres(t *testing.T) {
	backgroundRenewalShortTokens(t, postgresStores(t, 2))
}

// backgroundRenewalShortTokens runs two schedulers for several periods of
// 4-second access tokens (each falls due a second after it is issued) while
// requests go on: no refresh token is presented twice, no request is
// refused, and no connection is renewed twice within one period (two
// renewals of a connection less than half a second apart, where a period
// lasts a second at least).
func backgroundRenewalShortTokens(t *testing.T, stores []store.Store) {
	const n = 60
	duration := 5 * time.Second
	p := newRenewProvider(t, 4*time.Second)
	ids := seedRenewals(t, p, stores[0], n, 4*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var engines []*Engine
	var background atomic.Int64
	for _, s := range stores {
		e := newEngine(t, p.srv, renewConnector, WithStore(s))
		engines = append(engines, e)
		o := fastRenewal(RenewalOptions{Rate: 200, OnRenewal: func(id string, err error) {
			if err != nil {
				t.Errorf("background renewal of %s: %v", id, err)
			}
			background.Add(1)
		}})
		wg.Go(func() { e.RunRenewal(ctx, o) })
	}
	// Requests are never cut short (a renewal cancelled by its caller
	// after the provider rotated the token loses the new one): they stop
	// between requests, before the schedulers do.
	var requests sync.WaitGroup
	var stop atomic.Bool
	for w := range 2 {
		e := engines[w]
		requests.Go(func() {
			rctx := context.Background()
			for !stop.Load() {
				for i := w; i < n && !stop.Load(); i += 2 {
					cl, err := e.Client(rctx, renewConnection(store.ConnectionInfo{ID: ids[i], Connector: "c"}))
					if err == nil {
						_, err = cl.Get(rctx, "/api/me")
					}
					if err != nil {
						t.Errorf("request on %s: %v", ids[i], err)
					}
				}
			}
		})
	}
	time.Sleep(duration)
	stop.Store(true)
	requests.Wait()
	cancel()
	wg.Wait()
	if r := p.reused.Load(); r != 0 {
		t.Errorf("%d refresh tokens presented twice (invalid_grant)", r)
	}
	// A 401 can happen here (a token that expired on its way, under load),
	// and is answered by a renewal and a retry; a request that failed for
	// it is an error above.
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	for _, id := range ids {
		ts := p.renewals[id]
		total += len(ts)
		if len(ts) == 0 {
			t.Errorf("%s never renewed in %v of 4-second tokens", id, duration)
		}
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < 500*time.Millisecond {
				t.Errorf("%s renewed twice %v apart", id, gap)
			}
		}
	}
	// How many periods fit in depends on the machine (SQLite's single
	// writer under load); at least one per connection in the background.
	if background.Load() < n {
		t.Errorf("%d renewals in the background, want at least %d", background.Load(), n)
	}
	t.Logf("%d renewals, %d in the background, %d API requests", total, background.Load(), p.apiCalls.Load())
}

// A claim that lapsed while another renewal of the connection ran finds it
// renewed (errNotDue). Releasing that claim without a hold made the
// connection due again at once, and it was renewed a second time (seen in
// TestBackgroundRenewalKilledInstanceSQLite on a loaded machine): the
// stale claim must hold it like the renewal that got there first.
func TestBackgroundRenewalStaleClaimKeepsTheHold(t *testing.T) {
	p := newRenewProvider(t, time.Hour)
	s := sqliteStores(t, 1)[0]
	ids := seedRenewals(t, p, s, 1, 2*time.Second)
	q := s.(store.RenewalQueue)
	due := store.DueQuery{Limit: 10, ClaimFor: time.Hour, FreshAhead: time.Hour, FreshAll: true}
	ctx := context.Background()
	stale, err := q.ClaimDue(ctx, due)
	if err != nil || len(stale) != 1 {
		t.Fatalf("claim: %v %v", stale, err)
	}
	e := newEngine(t, p.srv, renewConnector, WithStore(s))
	o := fastRenewal(RenewalOptions{Ahead: time.Hour})
	o.defaults()
	r := &renewal{e: e, o: o, queue: q, catalog: s.(store.Catalog), log: e.logger, failures: map[string]int{}}
	// The renewal that got there first (another instance, or this one's
	// claim before it lapsed).
	if err := e.Renew(ctx, Connection{ID: ids[0], Connector: "c"}); err != nil {
		t.Fatal(err)
	}
	hold, err := r.renew(ctx, stale[0])
	if !errors.Is(err, errNotDue) {
		t.Fatalf("stale claim: err = %v, want errNotDue", err)
	}
	if hold < time.Second {
		t.Fatalf("stale claim released with hold %v: the renewed connection is due again at once", hold)
	}
	if err := q.Release(ctx, stale[0], hold); err != nil {
		t.Fatal(err)
	}
	again, err := q.ClaimDue(ctx, due)
	if err != nil || len(again) != 0 {
		t.Fatalf("claimed again right after the stale claim's release: %v %v", again, err)
	}
	if n := len(p.counts()); n != 1 || len(p.renewals[ids[0]]) != 1 {
		t.Fatalf("renewals: %v", p.renewals)
	}
}
