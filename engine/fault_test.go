package engine

// Fault injection on the token endpoint and on the store, under concurrent
// load from several clients and two engines (two instances) per connection.
//
// The provider here is written for the test, so that it can say exactly
// which tokens it issued and revoked and when: it rotates refresh tokens
// (using one revokes it and the access token issued with it) and may accept
// a rotated refresh token again for a grace period, as real providers do
// because a rotation's answer can be lost on the way: Okta's rotation
// "leeway" (30 s by default), Auth0's reuse interval, Cognito's
// RetryGracePeriodSeconds (up to 60 s). A grace period of zero is strict
// rotation: a rotation whose answer is lost (the connection dropped after
// the provider rotated) breaks the chain, and the engine can only report
// the connection as needing a new authorization (needs_reauth). Unlike
// Okta, the provider does not revoke the whole chain when a rotated token
// is presented again; that would only make a broken chain more broken.
//
// Invariants checked (see faultRun.check):
//   - no client sends a token it already knew was replaced (an older token
//     than the one it held when the request began) or rejected (one the API
//     answered 401 for, in a request that had ended before this one began);
//     requests in flight while another client or instance rotated the token
//     are counted, not failed: no engine can know about them;
//   - no credential is lost: once faults stop, the store of every connection
//     holds a refresh token that is live, or rotated only by answers that
//     never reached the engine (then the grace period covers it, or, with
//     strict rotation, the connection's state is needs_reauth);
//   - every error a caller sees is typed and accounted for by a fault
//     injected for that very client; nothing panics or hangs.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
)

const (
	// faultTokenTimeout bounds the engines' token requests here (the engine
	// itself allows 30 s): a hanging token endpoint costs a second.
	faultTokenTimeout = time.Second
	// faultHang is how long a "timeout" answer hangs at most (it ends
	// earlier when the client gives up).
	faultHang = 5 * time.Second
	// faultAccessTTL is the access tokens' lifetime: the engine renews them
	// halfway, so a connection is renewed about three times a second.
	faultAccessTTL = 600 * time.Millisecond
	// faultGrace is the provider's grace period for rotated refresh tokens
	// in the scenarios that have one (Okta's default is 30 s).
	faultGrace = time.Minute

	faultClientHeader       = "X-Fault-Client"
	faultRequestHeader      = "X-Fault-Request"
	faultTokenRequestHeader = "X-Fault-Token-Request"
	faultUseHeader          = "X-Fault-Use"
)

// faultClientKey tags a context with the client (or helper) it acts for, so
// that the token endpoint and the store can book a fault to that client.
type faultClientKey struct{}

func faultTag(ctx context.Context) string {
	tag, _ := ctx.Value(faultClientKey{}).(string)
	return tag
}

// ---------------------------------------------------------------------------
// The provider: rotating refresh tokens, with an optional grace period, that
// remembers every token it issued, revoked and answered.

type faultProvider struct {
	ttl, grace time.Duration

	mu      sync.Mutex
	seq     int64
	access  map[string]*faultAccess
	refresh map[string]*faultRefresh
	uses    map[string]*faultUse
	// Figures about the engines' requests (not the test's own helpers).
	refreshes, graceReuses int64
	invalid                []faultInvalid   // invalid_grant answers
	broken                 map[string]int64 // per connection: chains broken by a lost rotation answer
	helpers                map[string]int64 // refreshes and authorizations by the test's helpers
}

// faultInvalid is an invalid_grant answer to a client: by presented a
// refresh token that rotator (a client it was answered to; "" if none)
// had rotated.
type faultInvalid struct {
	conn, by, rotator, cause string
}

// faultAccess is an issued access token.
type faultAccess struct {
	conn      string
	expires   time.Time
	revoked   time.Time // zero while valid
	revokedBy *faultUse // the rotation that revoked it
}

// faultRefresh is an issued refresh token.
type faultRefresh struct {
	conn, access string
	rotated      time.Time // first use; zero while unused
	uses         []*faultUse
}

// faultUse is one accepted use of a refresh token: who presented it and
// whether the answer (the new tokens) reached them. The engine's transport
// says so for answers it was sent: delivered once it read the whole body.
type faultUse struct {
	id, by string
	state  int
}

const (
	faultPending = iota
	faultDelivered
	faultLost
)

// faultGrant is a token response.
type faultGrant struct {
	access, refresh string
	expires         time.Time
	use             *faultUse
}

func newFaultProvider(ttl, grace time.Duration) *faultProvider {
	return &faultProvider{ttl: ttl, grace: grace, access: map[string]*faultAccess{}, refresh: map[string]*faultRefresh{}, uses: map[string]*faultUse{},
		broken: map[string]int64{}, helpers: map[string]int64{}}
}

// faultIsHelper reports whether by is the test itself rather than a client
// of an engine.
func faultIsHelper(by string) bool {
	return by == "" || strings.HasPrefix(by, "helper:")
}

func (p *faultProvider) issueLocked(conn string, now time.Time) *faultGrant {
	p.seq++
	g := &faultGrant{access: fmt.Sprintf("faultAT-%07d", p.seq), refresh: fmt.Sprintf("faultRT-%07d", p.seq), expires: now.Add(p.ttl)}
	p.access[g.access] = &faultAccess{conn: conn, expires: g.expires}
	p.refresh[g.refresh] = &faultRefresh{conn: conn, access: g.access}
	return g
}

// authorize is a completed authorization: a new chain of tokens for conn,
// as credentials the engine stores.
func (p *faultProvider) authorize(conn, by string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.helpers["authorize ("+strings.TrimPrefix(by, "helper:")+")"]++
	return p.issueLocked(conn, time.Now()).credentials()
}

func (g *faultGrant) credentials() map[string]any {
	return map[string]any{"access_token": g.access, "refresh_token": g.refresh, "token_type": "Bearer",
		"expires_at": g.expires.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)}
}

// grant answers a refresh_token grant; code is "invalid_grant" when refused.
func (p *faultProvider) grant(rt, by string) (*faultGrant, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	r := p.refresh[rt]
	if r == nil {
		p.invalidLocked(faultInvalid{by: by, cause: "unknown refresh token"})
		return nil, "invalid_grant"
	}
	if !r.rotated.IsZero() && (p.grace == 0 || now.Sub(r.rotated) > p.grace) {
		iv := faultInvalid{conn: r.conn, by: by, cause: "rotation answer lost"}
		for _, u := range r.uses {
			if u.state == faultDelivered {
				iv.rotator, iv.cause = u.by, "spent again after its rotation reached a client"
				break
			}
		}
		if iv.rotator == "" && !faultIsHelper(by) {
			p.broken[r.conn]++
		}
		p.invalidLocked(iv)
		return nil, "invalid_grant"
	}
	use := &faultUse{id: fmt.Sprintf("use-%d", len(p.uses)+1), by: by}
	p.uses[use.id] = use
	if r.rotated.IsZero() {
		// Rotation: the refresh token and its access token are revoked.
		r.rotated = now
		if a := p.access[r.access]; a != nil && a.revoked.IsZero() {
			a.revoked, a.revokedBy = now, use
		}
	} else if !faultIsHelper(by) {
		p.graceReuses++
	}
	r.uses = append(r.uses, use)
	if faultIsHelper(by) {
		p.helpers["refresh"]++
	} else {
		p.refreshes++
	}
	g := p.issueLocked(r.conn, now)
	g.use = use
	return g, ""
}

func (p *faultProvider) invalidLocked(iv faultInvalid) {
	if faultIsHelper(iv.by) {
		p.helpers["invalid_grant"]++
		return
	}
	p.invalid = append(p.invalid, iv)
}

func (r *faultRefresh) deliveredLocked() bool {
	for _, u := range r.uses {
		if u.state == faultDelivered {
			return true
		}
	}
	return false
}

// answered records whether a grant's answer reached the client.
func (p *faultProvider) answered(u *faultUse, delivered bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u.state = faultLost
	if delivered {
		u.state = faultDelivered
	}
}

// answeredID is answered for the use with id.
func (p *faultProvider) answeredID(id string, delivered bool) {
	p.mu.Lock()
	u := p.uses[id]
	p.mu.Unlock()
	if u != nil {
		p.answered(u, delivered)
	}
}

// check says whether at may be used now: "ok", "unknown", "expired" or
// "revoked" (with the token's record).
func (p *faultProvider) check(at string) (string, *faultAccess) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.access[at]
	switch {
	case a == nil:
		return "unknown", nil
	case !a.revoked.IsZero():
		return "revoked", a
	case !time.Now().Before(a.expires.Add(faultTokenTimeout)):
		// The engine counts expires_in from when the answer arrived, up to
		// faultTokenTimeout after the provider issued it: that much leeway.
		return "expired", a
	}
	return "ok", a
}

// refreshStatus classifies a stored refresh token at the end of a run.
func (p *faultProvider) refreshStatus(rt string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.refresh[rt]
	switch {
	case r == nil:
		return "unknown"
	case r.rotated.IsZero():
		return "live"
	case r.deliveredLocked():
		return "rotated, answer delivered"
	}
	return "rotated, answer lost"
}

// revoker says who revoked a, from the point of view of client tag.
func (p *faultProvider) revoker(a *faultAccess, tag string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := a.revokedBy
	switch {
	case u == nil:
		return "not revoked"
	case faultIsHelper(u.by):
		return "a competing writer rotated it"
	case u.by != tag:
		return "another client or instance rotated it"
	case u.state != faultDelivered:
		return "its own rotation, whose answer was lost"
	}
	return "its own rotation, in flight meanwhile"
}

// ---------------------------------------------------------------------------
// The fault schedule: a seeded random choice per operation, booked per
// client.

type faultWeight struct {
	kind    string
	percent int
}

var (
	faultTokenWeights = []faultWeight{
		{"token_timeout", 4}, {"token_http_500", 4}, {"token_http_502", 3}, {"token_http_503", 3},
		{"token_drop", 4}, {"token_drop_after_rotation", 4}, {"token_timeout_after_rotation", 2},
	}
	faultGetWeights      = []faultWeight{{"store_get_error", 4}}
	faultCASWeights      = []faultWeight{{"store_cas_conflict", 6}, {"store_cas_error", 5}, {"store_cas_lost_reply", 4}, {"store_slow_write", 8}}
	faultSetStateWeights = []faultWeight{{"store_setstate_error", 15}}
	faultLockWeights     = []faultWeight{{"store_lock_error", 4}}
)

type faultSchedule struct {
	on       atomic.Bool
	mu       sync.Mutex
	rng      *rand.Rand
	injected map[string]map[string]int64 // kind -> client -> count
	// script, per group ("token", "get", "cas", "setstate", "lock"), lists
	// the next operations' faults ("" for none) before any random ones.
	script map[string][]string
}

func newFaultSchedule(seed uint64) *faultSchedule {
	return &faultSchedule{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), injected: map[string]map[string]int64{}, script: map[string][]string{}}
}

// draw returns the next scripted fault of group, else picks one by weight
// while the schedule is on; "" for none.
func (s *faultSchedule) draw(group string, weights []faultWeight) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.script[group]; len(q) > 0 {
		s.script[group] = q[1:]
		return q[0]
	}
	if !s.on.Load() {
		return ""
	}
	n := s.rng.IntN(100)
	for _, w := range weights {
		if n < w.percent {
			return w.kind
		}
		n -= w.percent
	}
	return ""
}

// plan scripts the next faults of group.
func (s *faultSchedule) plan(group string, kinds ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[group] = append(s.script[group], kinds...)
}

func (s *faultSchedule) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

// book records an injected fault.
func (s *faultSchedule) book(kind, client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.injected[kind] == nil {
		s.injected[kind] = map[string]int64{}
	}
	s.injected[kind][client]++
}

// count returns the faults of kinds injected for client ("" for all).
func (s *faultSchedule) count(client string, kinds ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, k := range kinds {
		for c, m := range s.injected[k] {
			if client == "" || c == client {
				n += m
			}
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// The token endpoint (with faults) and the protected API, on one server.

type faultEndpoint struct {
	p     *faultProvider
	sched *faultSchedule

	mu       sync.Mutex
	arrivals []faultArrival
	hangs    map[string]bool // token requests answered with a hang
}

// faultArrival is one request the protected API received.
type faultArrival struct {
	req, client, token, status string
	access                     *faultAccess
	at                         time.Time
}

func (h *faultEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/token":
		h.token(w, r)
	case "/api/resource":
		h.api(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *faultEndpoint) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		faultJSON(w, http.StatusBadRequest, `{"error":"invalid_request"}`)
		return
	}
	by := r.Header.Get(faultClientHeader)
	kind := h.sched.draw("token", faultTokenWeights)
	if kind != "" {
		h.sched.book(kind, by)
	}
	if kind == "token_timeout" || kind == "token_timeout_after_rotation" {
		h.mu.Lock()
		if h.hangs == nil {
			h.hangs = map[string]bool{}
		}
		h.hangs[r.Header.Get(faultTokenRequestHeader)] = true
		h.mu.Unlock()
	}
	switch kind {
	case "token_timeout":
		faultHangUp(r)
		return
	case "token_http_500":
		faultJSON(w, http.StatusInternalServerError, `{"error":"server_error","error_description":"injected"}`)
		return
	case "token_http_502":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		return
	case "token_http_503":
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case "token_drop":
		h.drop(w)
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" {
		faultJSON(w, http.StatusBadRequest, `{"error":"unsupported_grant_type"}`)
		return
	}
	g, code := h.p.grant(r.PostForm.Get("refresh_token"), by)
	if code != "" {
		faultJSON(w, http.StatusBadRequest, `{"error":"`+code+`","error_description":"refresh token revoked"}`)
		return
	}
	switch kind {
	case "token_drop_after_rotation":
		// The worst case: the provider rotated, the client never hears of it.
		h.p.answered(g.use, false)
		h.drop(w)
		return
	case "token_timeout_after_rotation":
		h.p.answered(g.use, false)
		faultHangUp(r)
		return
	}
	// Delivered or lost: the engine's transport tells (faultTransport).
	w.Header().Set(faultUseHeader, g.use.id)
	faultJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":%q,"refresh_token":%q,"token_type":"Bearer","expires_in":%g}`,
		g.access, g.refresh, h.p.ttl.Seconds()))
}

// drop closes the connection without an answer: half the time with a
// reset, half with a plain close.
func (h *faultEndpoint) drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	if tcp, ok := conn.(*net.TCPConn); ok && h.sched.intN(2) == 0 {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// faultHangUp answers nothing until the client gives up.
func faultHangUp(r *http.Request) {
	t := time.NewTimer(faultHang)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}

func faultJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// api is the protected resource: it records every token it receives and
// answers 401 unless the provider says the token is valid right now.
func (h *faultEndpoint) api(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	status, a := h.p.check(token)
	h.mu.Lock()
	h.arrivals = append(h.arrivals, faultArrival{req: r.Header.Get(faultRequestHeader), client: r.Header.Get(faultClientHeader), token: token, status: status, access: a, at: time.Now()})
	h.mu.Unlock()
	if status != "ok" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		faultJSON(w, http.StatusUnauthorized, `{"error":"invalid_token"}`)
		return
	}
	faultJSON(w, http.StatusOK, `{"ok":true}`)
}

// faultTransport is an engine's transport: it passes the client's tag on as
// a header, gives token requests a short deadline, and tells the provider
// whether each token answer reached the engine. A correct answer that
// missed the deadline (a slow machine, not a scripted hang) is booked as
// fault "token_slow_answer" of the client.
type faultTransport struct {
	base *http.Transport
	ep   *faultEndpoint
	seq  atomic.Int64
}

func newFaultTransport(t *testing.T, ep *faultEndpoint) *faultTransport {
	tr := &faultTransport{base: http.DefaultTransport.(*http.Transport).Clone(), ep: ep}
	t.Cleanup(tr.base.CloseIdleConnections)
	return tr
}

func (t *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	tag := faultTag(r.Context())
	out.Header.Set(faultClientHeader, tag)
	if r.URL.Path != "/token" {
		return t.base.RoundTrip(out)
	}
	id := fmt.Sprintf("%p-%d", t, t.seq.Add(1))
	out.Header.Set(faultTokenRequestHeader, id)
	ctx, cancel := context.WithTimeout(r.Context(), faultTokenTimeout)
	resp, err := t.base.RoundTrip(out.WithContext(ctx))
	if err != nil {
		t.late(ctx, id, tag)
		cancel()
		return nil, err
	}
	resp.Body = &faultBody{ReadCloser: resp.Body, t: t, ctx: ctx, cancel: cancel, id: id, tag: tag, use: resp.Header.Get(faultUseHeader)}
	return resp, nil
}

// late books a missed deadline that no scripted hang explains.
func (t *faultTransport) late(ctx context.Context, id, tag string) {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return
	}
	t.ep.mu.Lock()
	hang := t.ep.hangs[id]
	t.ep.mu.Unlock()
	if !hang {
		t.ep.sched.book("token_slow_answer", tag)
	}
}

// faultBody is a token answer's body on its way to the engine.
type faultBody struct {
	io.ReadCloser
	t       *faultTransport
	ctx     context.Context
	cancel  context.CancelFunc
	id, tag string
	use     string // the grant it carries, if any
	done    bool
}

func (b *faultBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if err != io.EOF {
			b.t.late(b.ctx, b.id, b.tag)
		}
		if b.use != "" {
			b.t.ep.p.answeredID(b.use, err == io.EOF)
		}
	}
	return n, err
}

func (b *faultBody) Close() error {
	if !b.done && b.use != "" {
		b.done = true
		b.t.ep.p.answeredID(b.use, false)
	}
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// ---------------------------------------------------------------------------
// The store wrapper: errors on reads, genuine conflicts, failed writes,
// writes whose reply is lost, slow writes, failed state writes and (for a
// store with a cross-instance lock) failed locks.

// faultErrStore marks every store failure the test injects.
var faultErrStore = errors.New("fault: injected store failure")

type faultStore struct {
	inner store.Store
	sched *faultSchedule
	trace *faultTrace
	// compete returns credentials another writer genuinely holds for the
	// connection: what another instance's renewal, or a new authorization,
	// would store.
	compete func(id string, rec store.Record) map[string]any
}

// faultLockingStore is a faultStore over a store.Locker.
type faultLockingStore struct{ *faultStore }

func faultWrap(inner store.Store, sched *faultSchedule, trace *faultTrace, compete func(string, store.Record) map[string]any) store.Store {
	fs := &faultStore{inner: inner, sched: sched, trace: trace, compete: compete}
	if _, ok := inner.(store.Locker); ok {
		return faultLockingStore{fs}
	}
	return fs
}

func (s *faultStore) Get(ctx context.Context, id string) (store.Record, error) {
	if kind := s.sched.draw("get", faultGetWeights); kind != "" {
		s.sched.book(kind, faultTag(ctx))
		return store.Record{}, fmt.Errorf("reading %s: %w", id, faultErrStore)
	}
	return s.inner.Get(ctx, id)
}

func (s *faultStore) CompareAndSwap(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	tag := faultTag(ctx)
	switch kind := s.sched.draw("cas", faultCASWeights); kind {
	case "store_cas_conflict":
		// Another writer wins, for real: it writes its own credentials
		// through the inner store first, so this write meets a newer version.
		if rec, err := s.inner.Get(ctx, id); err == nil && rec.Version == expected && expected > 0 {
			theirs := s.compete(id, rec)
			if _, err := s.inner.CompareAndSwap(ctx, id, expected, theirs); err == nil {
				s.sched.book(kind, tag)
				s.trace.add(id, "a competing writer writes %v over version %d", theirs["refresh_token"], expected)
			}
		}
	case "store_cas_error":
		s.sched.book(kind, tag)
		return 0, fmt.Errorf("writing %s: %w", id, faultErrStore)
	case "store_cas_lost_reply":
		// Written, but the writer never hears so.
		v, err := s.inner.CompareAndSwap(ctx, id, expected, credentials)
		s.trace.add(id, "%s writes %v over version %d: version %d, %v, and the reply is lost", tag, credentials["refresh_token"], expected, v, err)
		if err != nil {
			return v, err
		}
		s.sched.book(kind, tag)
		return 0, fmt.Errorf("writing %s: connection lost after the write: %w", id, faultErrStore)
	case "store_slow_write":
		s.sched.book(kind, tag)
		time.Sleep(time.Duration(20+s.sched.intN(100)) * time.Millisecond)
	}
	v, err := s.inner.CompareAndSwap(ctx, id, expected, credentials)
	s.trace.add(id, "%s writes %v over version %d: version %d, %v", tag, credentials["refresh_token"], expected, v, err)
	return v, err
}

func (s *faultStore) SetState(ctx context.Context, id string, state store.State) error {
	if kind := s.sched.draw("setstate", faultSetStateWeights); kind != "" {
		s.sched.book(kind, faultTag(ctx))
		s.trace.add(id, "%s fails to record %s", faultTag(ctx), state.Status)
		return fmt.Errorf("recording the state of %s: %w", id, faultErrStore)
	}
	s.trace.add(id, "%s records %s", faultTag(ctx), state.Status)
	return s.inner.SetState(ctx, id, state)
}

// faultTrace keeps the last store writes per connection, to explain a
// failure.
type faultTrace struct {
	mu      sync.Mutex
	entries map[string][]string
}

func (tr *faultTrace) add(id, format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.entries == nil {
		tr.entries = map[string][]string{}
	}
	e := append(tr.entries[id], time.Now().Format("15:04:05.000000 ")+fmt.Sprintf(format, args...))
	tr.entries[id] = e[max(0, len(e)-12):]
}

func (tr *faultTrace) dump(id string) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return "\n\t" + strings.Join(tr.entries[id], "\n\t")
}

func (s faultLockingStore) Lock(ctx context.Context, id string) (func(), error) {
	if kind := s.sched.draw("lock", faultLockWeights); kind != "" {
		s.sched.book(kind, faultTag(ctx))
		return nil, fmt.Errorf("locking %s: %w", id, faultErrStore)
	}
	return s.inner.(store.Locker).Lock(ctx, id)
}

// compete is the competing writer's credentials: a renewal with the stored
// refresh token (accepted within the grace period), else a new
// authorization.
func (p *faultProvider) compete(id string, rec store.Record) map[string]any {
	rt, _ := rec.Credentials["refresh_token"].(string)
	if g, code := p.grant(rt, "helper:competitor"); code == "" {
		p.answered(g.use, true)
		return g.credentials()
	}
	return p.authorize(id, "helper:competitor")
}

// ---------------------------------------------------------------------------
// The load.

const (
	faultConnections = 4
	faultGoroutines  = 2 // per client
	faultPace        = 5 * time.Millisecond
)

// faultScenario is one provider and store set-up under load.
type faultScenario struct {
	name  string
	grace time.Duration
	// clients has one entry per engine: clients per connection on it.
	clients []int
	// stores opens n handles on one store, one per engine.
	stores func(t testing.TB, n int) []store.Store
	// reauth has a person authorise connections again once they need it.
	reauth bool
}

type faultClient struct {
	tag, conn string
	cl        *Client

	mu sync.Mutex
	// firstSeen is, per access token, the lowest state version the client
	// held it at when a request began.
	firstSeen map[string]int
}

// faultCall is one request a caller made.
type faultCall struct {
	fc           *faultClient
	id           string
	startVersion int
	startToken   string
	start, end   time.Time
	err          error
	class        string
}

type faultRun struct {
	t        *testing.T
	sc       faultScenario
	duration time.Duration
	p        *faultProvider
	sched    *faultSchedule
	ep       *faultEndpoint
	trace    faultTrace
	inner    store.Store // the first handle, without faults, for the test's reads
	engines  []*Engine
	conns    []string
	clients  []*faultClient

	seq     atomic.Int64
	reauths atomic.Int64
	mu      sync.Mutex
	calls   []*faultCall
}

func faultDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CONNSPEC_SOAK")); err == nil {
		return d
	}
	if testing.Short() {
		return 2 * time.Second
	}
	return 5 * time.Second
}

func faultSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CONNSPEC_FAULT_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("fault schedule seed %d (set CONNSPEC_FAULT_SEED to repeat it)", seed)
	return seed
}

func faultMemoryStores(t testing.TB, n int) []store.Store {
	return slices.Repeat([]store.Store{store.NewMemory()}, n)
}

func faultSQLiteStores(t testing.TB, n int) []store.Store {
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

func faultPostgresStores(t testing.TB, n int) []store.Store {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set")
	}
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	var out []store.Store
	for range n {
		pg, err := store.OpenPostgres(context.Background(), url, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		out = append(out, pg)
	}
	return out
}

// TestFaultInjectionUnderLoad sends requests on four connections from
// several clients and two engines sharing a store while the token endpoint
// times out, fails with 5xx and drops connections (before and after it
// rotated the refresh token) and the store fails reads, writes, state
// writes and locks, loses write replies, writes slowly and loses races to
// genuine competing writers. CONNSPEC_SOAK sets how long each scenario runs
// (default 5 s, 2 s with -short); CONNSPEC_FAULT_SEED repeats a schedule.
func TestFaultInjectionUnderLoad(t *testing.T) {
	duration, seed := faultDuration(), faultSeed(t)
	scenarios := []faultScenario{
		{name: "grace/memory", grace: faultGrace, clients: []int{2, 1}, stores: faultMemoryStores},
		{name: "grace/sqlite", grace: faultGrace, clients: []int{2, 1}, stores: faultSQLiteStores},
		{name: "grace/postgres", grace: faultGrace, clients: []int{2, 1}, stores: faultPostgresStores},
		// Without a grace period, instances must not spend one refresh token
		// twice: one engine (its lock covers its clients), or PostgreSQL's
		// advisory lock across engines.
		{name: "strict/memory", clients: []int{3}, stores: faultMemoryStores, reauth: true},
		{name: "strict/postgres", clients: []int{2, 1}, stores: faultPostgresStores, reauth: true},
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runFaultScenario(t, sc, duration, seed+uint64(i))
		})
	}
}

func runFaultScenario(t *testing.T, sc faultScenario, duration time.Duration, seed uint64) {
	r := &faultRun{t: t, sc: sc, duration: duration, p: newFaultProvider(faultAccessTTL, sc.grace), sched: newFaultSchedule(seed)}
	r.ep = &faultEndpoint{p: r.p, sched: r.sched}
	srv := httptest.NewServer(r.ep)
	t.Cleanup(srv.Close)
	handles := sc.stores(t, len(sc.clients))
	r.inner = handles[0]
	for _, h := range handles {
		tr := newFaultTransport(t, r.ep)
		r.engines = append(r.engines, newEngine(t, srv, tokenConnector(srv), WithStore(faultWrap(h, r.sched, &r.trace, r.p.compete)), WithTransport(tr)))
	}
	prefix := fmt.Sprintf("fault-%s-%d", strings.ReplaceAll(sc.name, "/", "-"), time.Now().UnixNano())
	for i := range faultConnections {
		id := fmt.Sprintf("%s-%d", prefix, i)
		r.conns = append(r.conns, id)
		creds := r.p.authorize(id, "helper:setup")
		for ei, e := range r.engines {
			for k := range sc.clients[ei] {
				cl := mustClient(t, e, Connection{ID: id, Credentials: creds})
				r.clients = append(r.clients, &faultClient{tag: fmt.Sprintf("conn%d/engine%d/client%d", i, ei, k), conn: id, cl: cl, firstSeen: map[string]int{}})
			}
		}
	}

	r.sched.on.Store(true)
	deadline := time.Now().Add(duration)
	stop := make(chan struct{})
	var helpers sync.WaitGroup
	if sc.reauth {
		helpers.Go(func() { r.reauthorize(stop) })
	}
	var wg sync.WaitGroup
	for _, fc := range r.clients {
		for range faultGoroutines {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					r.call(fc)
					time.Sleep(faultPace)
				}
			})
		}
	}
	wg.Wait()
	r.sched.on.Store(false)
	close(stop)
	helpers.Wait()
	r.check()
}

// call sends one request as fc and records what happened.
func (r *faultRun) call(fc *faultClient) *faultCall {
	st := fc.cl.state.Load()
	at, _ := st.credentials["access_token"].(string)
	fc.mu.Lock()
	if v, ok := fc.firstSeen[at]; !ok || st.version < v {
		fc.firstSeen[at] = st.version
	}
	fc.mu.Unlock()
	c := &faultCall{fc: fc, id: fmt.Sprintf("%s#%d", fc.tag, r.seq.Add(1)), startVersion: st.version, startToken: at, start: time.Now()}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), faultClientKey{}, fc.tag), 20*time.Second)
	defer cancel()
	func() {
		defer func() {
			if v := recover(); v != nil {
				c.err, c.class = fmt.Errorf("panic: %v", v), "panic"
			}
		}()
		_, c.err = fc.cl.Get(ctx, "/api/resource", WithHeader(faultRequestHeader, c.id))
	}()
	c.end = time.Now()
	switch {
	case c.class != "":
	case ctx.Err() != nil:
		c.class = "hang"
	default:
		c.class = faultClassify(c.err)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return c
}

// faultClassify sorts an error a caller saw.
func faultClassify(err error) string {
	var te *oauth2.TokenError
	var he *HTTPError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, faultErrStore):
		return "store"
	case errors.Is(err, ErrConnectionIsDefunct):
		return "defunct"
	case errors.As(err, &te) && te.Transient && te.Status == 0:
		return "token_transport"
	case errors.As(err, &te) && te.Transient:
		return "token_http_" + strconv.Itoa(te.Status)
	case errors.As(err, &he):
		return "api_http_" + strconv.Itoa(he.Status)
	}
	return "unexpected"
}

// faultExplains lists the injected faults that can explain each class of
// failure a caller sees. A fault fails at most one request: concurrent
// requests waiting for a failed renewal make their own.
var faultExplains = map[string][]string{
	"token_transport": {"token_timeout", "token_drop", "token_drop_after_rotation", "token_timeout_after_rotation", "token_slow_answer"},
	"token_http_500":  {"token_http_500"},
	"token_http_502":  {"token_http_502"},
	"token_http_503":  {"token_http_503"},
	"store":           {"store_get_error", "store_cas_error", "store_cas_lost_reply", "store_lock_error"},
}

// reauthorize plays the person who connects again: a connection recorded as
// needs_reauth, whose stored refresh token the provider no longer takes,
// gets a new authorization.
func (r *faultRun) reauthorize(stop <-chan struct{}) {
	ctx := context.WithValue(context.Background(), faultClientKey{}, "helper:reauth")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for _, id := range r.conns {
			rec, err := r.inner.Get(ctx, id)
			if err != nil || rec.State.Status != store.StatusNeedsReauth {
				continue
			}
			if rt, _ := rec.Credentials["refresh_token"].(string); r.p.refreshStatus(rt) == "live" {
				continue // authorised again already; the state follows at the next renewal
			}
			if r.engines[0].overwrite(ctx, Connection{ID: id}, r.p.authorize(id, "helper:reauth")) == nil {
				r.reauths.Add(1)
			}
		}
	}
}

// check settles the run with faults off and checks every invariant.
func (r *faultRun) check() {
	t, ctx := r.t, context.Background()
	// One request per client with faults off: whatever a failed write left
	// to store is stored now.
	for _, fc := range r.clients {
		r.call(fc)
	}

	// No lost credentials.
	stored := map[string]store.Record{}
	for _, id := range r.conns {
		rec, err := r.inner.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		stored[id] = rec
		rt, _ := rec.Credentials["refresh_token"].(string)
		switch status := r.p.refreshStatus(rt); status {
		case "live":
		case "rotated, answer lost":
			// The engine never learnt of the rotation: the grace period
			// covers it, or the connection must come to need a new
			// authorization (checked below).
		default:
			t.Errorf("%s: the store holds a refresh token that is %s: a credential was lost; last writes:%s", id, status, r.trace.dump(id))
		}
	}
	if r.sc.grace == 0 {
		// Every connection's renewal is due now: a broken chain shows.
		time.Sleep(faultAccessTTL)
		for _, fc := range r.clients {
			r.call(fc)
		}
	}
	for _, id := range r.conns {
		rec, err := r.inner.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		rt, _ := rec.Credentials["refresh_token"].(string)
		status := r.p.refreshStatus(rt)
		if r.sc.grace == 0 && status != "live" {
			r.p.mu.Lock()
			broken := r.p.broken[id]
			r.p.mu.Unlock()
			if rec.State.Status != store.StatusNeedsReauth || broken == 0 {
				t.Errorf("%s: the stored refresh token is %s but the state is %q (chains broken by lost answers: %d): silently broken; last writes:%s", id, status, rec.State.Status, broken, r.trace.dump(id))
			}
			continue
		}
		if _, code := r.p.grant(rt, "helper:final"); code != "" {
			t.Errorf("%s: the provider refuses the stored refresh token (%s): a credential was lost; last writes:%s", id, code, r.trace.dump(id))
		}
		if rec.State.Status != store.StatusConnected {
			t.Errorf("%s: the stored credentials work but the state is %q (%s); last writes:%s", id, rec.State.Status, rec.State.LastError, r.trace.dump(id))
		}
	}

	r.checkTokens()
	r.checkFailures()
}

// checkTokens: no client sends a token it knew was replaced or rejected,
// nor one the provider never issued.
func (r *faultRun) checkTokens() {
	t := r.t
	r.ep.mu.Lock()
	arrivals := slices.Clone(r.ep.arrivals)
	r.ep.mu.Unlock()
	byReq := map[string][]faultArrival{}
	for _, a := range arrivals {
		byReq[a.req] = append(byReq[a.req], a)
	}
	// rejected: per client, when it first knew a token was refused (the
	// end of a request that got a 401 for it).
	rejected := map[*faultClient]map[string]time.Time{}
	for _, c := range r.calls {
		for _, a := range byReq[c.id] {
			if a.status == "ok" {
				continue
			}
			m := rejected[c.fc]
			if m == nil {
				m = map[string]time.Time{}
				rejected[c.fc] = m
			}
			if k, ok := m[a.token]; !ok || c.end.Before(k) {
				m[a.token] = c.end
			}
		}
	}
	var unknown, replaced, resent int
	revokedBy := map[string]int{}
	expired := 0
	for _, c := range r.calls {
		as := byReq[c.id]
		for i, a := range as {
			switch a.status {
			case "unknown":
				unknown++
				t.Errorf("%s sent a token the provider never issued", c.id)
			case "revoked":
				revokedBy[r.p.revoker(a.access, c.fc.tag)]++
			case "expired":
				expired++
			}
			if slices.ContainsFunc(as[:i], func(b faultArrival) bool { return b.token == a.token && b.status != "ok" }) {
				resent++
				t.Errorf("%s replayed %s, which the API had just refused", c.id, a.token)
			}
			if k, ok := rejected[c.fc][a.token]; ok && c.start.After(k) {
				resent++
				if resent <= 5 {
					t.Errorf("%s sent %s (%s), which the API had refused in a request that ended %v before this one began", c.id, a.token, a.status, c.start.Sub(k))
				}
			}
			if i == 0 && a.token != c.startToken {
				c.fc.mu.Lock()
				v, ok := c.fc.firstSeen[a.token]
				c.fc.mu.Unlock()
				if ok && v < c.startVersion {
					replaced++
					if replaced <= 5 {
						t.Errorf("%s began at version %d but sent %s, replaced since version %d", c.id, c.startVersion, a.token, v)
					}
				}
			}
		}
	}
	t.Logf("API: %d requests arrived; %d with an expired token, %d with a revoked one: %v", len(arrivals), expired, faultSum(revokedBy), revokedBy)
	t.Logf("tokens sent after the client knew them replaced: %d, after a 401 for them: %d, never issued: %d", replaced, resent, unknown)
	if resent > 5 || replaced > 5 {
		t.Errorf("%d tokens sent after they were replaced, %d after a 401", replaced, resent)
	}
}

// explained reports whether an invalid_grant answer is accounted for by a
// fault: with strict rotation, a chain the network broke (the rotation's
// answer was lost), or a refresh token another instance had rotated but
// failed to store (an injected write failure: the other instance holds the
// new one and stores it at its next request, but this one cannot know).
// Within one engine, the token a client failed to store is always written
// (or used) before the connection is renewed again.
func (r *faultRun) explained(iv faultInvalid) bool {
	if r.sc.grace > 0 {
		return false
	}
	switch iv.cause {
	case "rotation answer lost":
		return true
	case "spent again after its rotation reached a client":
		return faultEngineOf(iv.by) != faultEngineOf(iv.rotator) && r.sched.count(iv.rotator, "store_cas_error") > 0
	}
	return false
}

// faultEngineOf returns the engine part of a client's tag.
func faultEngineOf(tag string) string {
	parts := strings.Split(tag, "/")
	if len(parts) != 3 {
		return tag
	}
	return parts[1]
}

// arrivals returns what the API received of a call.
func (r *faultRun) arrivals(c *faultCall) []faultArrival {
	r.ep.mu.Lock()
	defer r.ep.mu.Unlock()
	var out []faultArrival
	for _, a := range r.ep.arrivals {
		if a.req == c.id {
			out = append(out, a)
		}
	}
	return out
}

// describe lists what the API saw of a call.
func (r *faultRun) describe(c *faultCall) string {
	var out []string
	for _, a := range r.arrivals(c) {
		d := fmt.Sprintf("%s %s at +%v", a.token, a.status, a.at.Sub(c.start))
		if a.access != nil {
			r.p.mu.Lock()
			d += fmt.Sprintf(" (expires +%v, revoked +%v)", a.access.expires.Sub(c.start), a.access.revoked.Sub(c.start))
			r.p.mu.Unlock()
			if a.status == "revoked" {
				d += " by " + r.p.revoker(a.access, c.fc.tag)
			}
		}
		out = append(out, d)
	}
	return fmt.Sprintf("[%s] (the client began at version %d with %s)", strings.Join(out, "; "), c.startVersion, c.startToken)
}

func faultSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// checkFailures: every failure a caller saw is typed, free of secrets and
// accounted for by a fault injected for that client; and reports figures.
func (r *faultRun) checkFailures() {
	t := r.t
	classes := map[string]int{}
	perClient := map[string]map[string]int{}
	for _, c := range r.calls {
		classes[c.class]++
		if c.err == nil {
			continue
		}
		if msg := c.err.Error(); strings.Contains(msg, "faultAT-") || strings.Contains(msg, "faultRT-") {
			t.Errorf("%s: an error shows a token: %s", c.id, msg)
		}
		if perClient[c.fc.tag] == nil {
			perClient[c.fc.tag] = map[string]int{}
		}
		perClient[c.fc.tag][c.class]++
		switch {
		case c.class == "api_http_401":
			// The replay after a renewal was refused too: inherent only when
			// another writer rotated the new token meanwhile.
			as := r.arrivals(c)
			if len(as) < 2 || as[len(as)-1].status != "revoked" || !strings.Contains(r.p.revoker(as[len(as)-1].access, c.fc.tag), "rotated it") {
				t.Errorf("%s: unaccounted failure (%s): %v; the API saw %s", c.id, c.class, c.err, r.describe(c))
			}
		case c.class == "defunct":
			r.p.mu.Lock()
			explained := slices.ContainsFunc(r.p.invalid, func(iv faultInvalid) bool { return iv.conn == c.fc.conn && r.explained(iv) })
			r.p.mu.Unlock()
			if !explained {
				t.Errorf("%s: %v, but no invalid_grant answer for %s is accounted for", c.id, c.err, c.fc.conn)
			}
		case faultExplains[c.class] == nil:
			t.Errorf("%s: unaccounted failure (%s): %v; the API saw %s", c.id, c.class, c.err, r.describe(c))
		}
	}
	for tag, m := range perClient {
		for class, n := range m {
			if kinds := faultExplains[class]; kinds != nil {
				if faults := r.sched.count(tag, kinds...); int64(n) > faults {
					t.Errorf("%s: %d failures of class %s, but only %d faults %v were injected for it", tag, n, class, faults, kinds)
				}
			}
		}
	}
	r.p.mu.Lock()
	invalids, helpers := slices.Clone(r.p.invalid), maps.Clone(r.p.helpers)
	refreshes, reuses := r.p.refreshes, r.p.graceReuses
	r.p.mu.Unlock()
	invalid := map[string]int{}
	for _, iv := range invalids {
		invalid[iv.cause]++
		if !r.explained(iv) {
			t.Errorf("invalid_grant for %s: %s (rotated by %q)", iv.by, iv.cause, iv.rotator)
		}
	}
	injected := map[string]int64{}
	for _, kinds := range [][]faultWeight{faultTokenWeights, {{"token_slow_answer", 0}}, faultGetWeights, faultCASWeights, faultSetStateWeights, faultLockWeights} {
		for _, w := range kinds {
			if n := r.sched.count("", w.kind); n > 0 {
				injected[w.kind] = n
			}
		}
	}
	t.Logf("%s: %d requests by %d clients on %d engines; caller outcomes %v", r.sc.name, len(r.calls), len(r.clients), len(r.engines), classes)
	t.Logf("faults injected %v", injected)
	t.Logf("refreshes %d (grace reuses %d), invalid_grant %v, test's own token requests %v, re-authorizations %d", refreshes, reuses, invalid, helpers, r.reauths.Load())
	var tokenFaults, storeFaults int64
	for kind, n := range injected {
		if strings.HasPrefix(kind, "token_") {
			tokenFaults += n
		} else {
			storeFaults += n
		}
	}
	if r.duration >= 2*time.Second && (tokenFaults == 0 || storeFaults == 0) {
		t.Errorf("too few faults were injected to say anything")
	}
}

// TestFaultPostgresRenewalsOutnumberThePool renews more connections at once
// than the PostgreSQL store's pool has connections. Each renewal holds its
// advisory lock on a pooled connection while it reads and writes the
// store: with one pool for both, the renewals holding every connection
// waited forever for one more.
func TestFaultPostgresRenewalsOutnumberThePool(t *testing.T) {
	stores := faultPostgresStores(t, 1)
	srv := oauthtest.New(t, oauthtest.Options{RotateRefreshTokens: true})
	e := newEngine(t, nil, oauthConnector(srv, ""), WithStore(stores[0]), WithTransport(slowTokens{}))
	clock := withClock(e)
	prefix := fmt.Sprintf("fault-pool-%d", time.Now().UnixNano())
	var clients []*Client
	// pgxpool allows max(4, NumCPU) connections by default.
	for i := range max(8, 2*runtime.NumCPU()) {
		conn := Connection{ID: fmt.Sprintf("%s-%d", prefix, i), Connector: "c", ConnectorParameters: clientParams}
		conn.Credentials = authorizeConnection(t, e, srv, conn)
		clients = append(clients, mustClient(t, e, conn))
	}
	clock.Advance(2 * time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, cl := range clients {
		for range 3 {
			wg.Go(func() {
				if _, err := cl.Get(ctx, "/api/me"); err != nil {
					failed.Add(1)
					t.Log(err)
				}
			})
		}
	}
	wg.Wait()
	if n := srv.Grants("refresh_token"); n != int64(len(clients)) || failed.Load() != 0 {
		t.Errorf("%d refreshes for %d connections, %d failed requests", n, len(clients), failed.Load())
	}
}

// faultSetup is one engine over a faulty in-memory store and token
// endpoint, for scripted faults. Its fake clock is installed before any
// client (so expiry is computed on it), while the provider keeps real time
// with hour-long tokens: moving the clock makes the engine renew tokens the
// provider still takes.
type faultSetup struct {
	p     *faultProvider
	sched *faultSchedule
	ep    *faultEndpoint
	mem   *store.Memory
	trace faultTrace
	e     *Engine
	clock *fakeClock
}

func newFaultSetup(t *testing.T, grace time.Duration) *faultSetup {
	f := &faultSetup{p: newFaultProvider(time.Hour, grace), sched: newFaultSchedule(1), mem: store.NewMemory()}
	f.ep = &faultEndpoint{p: f.p, sched: f.sched}
	srv := httptest.NewServer(f.ep)
	t.Cleanup(srv.Close)
	tr := newFaultTransport(t, f.ep)
	f.e = newEngine(t, srv, tokenConnector(srv), WithStore(faultWrap(f.mem, f.sched, &f.trace, f.p.compete)), WithTransport(tr))
	f.clock = withClock(f.e)
	return f
}

func (f *faultSetup) get(cl *Client, tag string) error {
	_, err := cl.Get(context.WithValue(context.Background(), faultClientKey{}, tag), "/api/resource")
	return err
}

// sent counts the requests the API received with token.
func (f *faultSetup) sent(token any) int {
	f.ep.mu.Lock()
	defer f.ep.mu.Unlock()
	n := 0
	for _, a := range f.ep.arrivals {
		if a.token == token {
			n++
		}
	}
	return n
}

func (f *faultSetup) stored(t *testing.T, id string) store.Record {
	t.Helper()
	rec, err := f.mem.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (f *faultSetup) invalidGrants() int {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	return len(f.p.invalid)
}

// A renewal whose answer arrived but whose write to the store failed: the
// rotated refresh token lives only in the client that renewed, and the
// store's has been spent. With strict rotation, another client renewing
// from the store would break the connection; the engine writes the new
// credentials first, at the next request or renewal of any of its clients.
func TestFaultFailedStoreWriteKeepsTheRotatedToken(t *testing.T) {
	f := newFaultSetup(t, 0)
	for _, next := range []string{"request", "renewal"} {
		id := "conn-" + next
		creds := f.p.authorize(id, "helper:setup")
		a, b := mustClient(t, f.e, Connection{ID: id, Credentials: creds}), mustClient(t, f.e, Connection{ID: id, Credentials: creds})
		f.clock.Advance(2 * time.Hour) // both due for renewal
		f.sched.plan("cas", "store_cas_error")
		if err := f.get(a, "a"); !errors.Is(err, faultErrStore) || strings.Contains(err.Error(), "faultRT-") {
			t.Fatalf("%s: the failed write: %v", next, err)
		}
		renewed := a.Credentials()["refresh_token"]
		if next == "request" {
			if err := f.get(a, "a"); err != nil {
				t.Fatal(err)
			}
			if rt := f.stored(t, id).Credentials["refresh_token"]; rt != renewed {
				t.Errorf("after the next request the store holds %v, not %v", rt, renewed)
			}
		}
		if err := f.get(b, "b"); err != nil {
			t.Errorf("%s: the other client: %v", next, err)
		}
		rt, _ := f.stored(t, id).Credentials["refresh_token"].(string)
		if status := f.p.refreshStatus(rt); rt != renewed || status != "live" {
			t.Errorf("%s: the store holds %s (%s), the renewal gave %v", next, rt, status, renewed)
		}
	}
	if n := f.invalidGrants(); n != 0 {
		t.Errorf("%d invalid_grant answers", n)
	}
}

// An access token the API refused (another instance rotated the refresh
// token, say) is not sent again while its renewal fails.
func TestFaultRefusedTokenIsNotSentAgain(t *testing.T) {
	f := newFaultSetup(t, faultGrace)
	creds := f.p.authorize("c", "helper:setup")
	cl := mustClient(t, f.e, Connection{ID: "c", Credentials: creds})
	g, code := f.p.grant(creds["refresh_token"].(string), "helper:other-instance")
	if code != "" {
		t.Fatal(code)
	}
	f.p.answered(g.use, true)
	f.sched.plan("token", "token_http_503", "token_http_500")
	for _, status := range []int{503, 500} {
		var te *oauth2.TokenError
		if err := f.get(cl, "c"); !errors.As(err, &te) || te.Status != status || !te.Transient {
			t.Fatalf("want the token endpoint's %d: %v", status, err)
		}
	}
	if n := f.sent(creds["access_token"]); n != 1 {
		t.Errorf("the refused token was sent %d times", n)
	}
	if err := f.get(cl, "c"); err != nil {
		t.Fatalf("once the token endpoint answers: %v", err)
	}
}

// A refresh token refused with invalid_grant is not presented again by
// requests that waited for the renewal; the needs_reauth state is written
// again when the store failed to take it, and a passing failure of another
// client does not turn it back to connected.
func TestFaultRefusedRefreshTokenIsNotPresentedAgain(t *testing.T) {
	f := newFaultSetup(t, 0)
	ctx := context.WithValue(context.Background(), faultClientKey{}, "a")
	creds := f.p.authorize("c", "helper:setup")
	a, b := mustClient(t, f.e, Connection{ID: "c", Credentials: creds}), mustClient(t, f.e, Connection{ID: "c", Credentials: creds})
	f.clock.Advance(2 * time.Hour)
	// The provider rotated the refresh token, and the answer was lost.
	g, _ := f.p.grant(creds["refresh_token"].(string), "helper:lost")
	f.p.answered(g.use, false)

	f.sched.plan("setstate", "store_setstate_error")
	st := a.state.Load()
	if err := a.refresh(ctx, st.version, false); !errors.Is(err, ErrConnectionIsDefunct) {
		t.Fatalf("refresh: %v", err)
	}
	if s := f.stored(t, "c").State.Status; s == store.StatusNeedsReauth {
		t.Fatalf("state %q: the store was to refuse it", s)
	}
	// A request that waited for that renewal with the same version.
	if err := a.refresh(ctx, st.version, false); !errors.Is(err, ErrConnectionIsDefunct) {
		t.Fatalf("refresh: %v", err)
	}
	if n := f.invalidGrants(); n != 1 {
		t.Errorf("the refused refresh token was presented %d times", n)
	}
	if s := f.stored(t, "c").State; s.Status != store.StatusNeedsReauth || !strings.Contains(s.LastError, "invalid_grant") {
		t.Fatalf("the state was not written again: %+v", s)
	}
	if err := f.get(a, "a"); !errors.Is(err, ErrConnectionIsDefunct) || f.invalidGrants() != 1 {
		t.Fatalf("next request: %v", err)
	}
	f.sched.plan("token", "token_http_500")
	var te *oauth2.TokenError
	if err := f.get(b, "b"); !errors.As(err, &te) || te.Status != 500 {
		t.Fatalf("the other client: %v", err)
	}
	if s := f.stored(t, "c").State; s.Status != store.StatusNeedsReauth || !strings.Contains(s.LastError, "HTTP 500") {
		t.Errorf("after a passing failure the state is %+v", s)
	}
}

// The store can hand back credentials a client already holds at a newer
// version (a write whose reply was lost went through). A refused token
// stays refused across that: the forced renewal renews, rather than replay
// the request with the store's copy of the refused token.
func TestFaultSameCredentialsAtANewerVersionStayRefused(t *testing.T) {
	f := newFaultSetup(t, faultGrace)
	ctx := context.WithValue(context.Background(), faultClientKey{}, "c")
	creds := f.p.authorize("c", "helper:setup")
	cl := mustClient(t, f.e, Connection{ID: "c", Credentials: creds})
	f.clock.Advance(2 * time.Hour)
	f.sched.plan("cas", "store_cas_lost_reply")
	if err := f.get(cl, "c"); !errors.Is(err, faultErrStore) {
		t.Fatalf("want the lost reply: %v", err)
	}
	renewed := cl.Credentials()
	if err := f.get(cl, "c"); err != nil {
		t.Fatal(err)
	}
	// Another instance rotates the refresh token: the access token is revoked.
	g, _ := f.p.grant(renewed["refresh_token"].(string), "helper:other-instance")
	f.p.answered(g.use, true)
	if err := f.get(cl, "c"); err != nil {
		t.Fatalf("after the revocation: %v", err)
	}
	if n := f.sent(renewed["access_token"]); n != 2 {
		t.Errorf("the revoked token was sent %d times, want 2 (before and once after its revocation)", n)
	}

	// The same at the level of versions: the store rewrites the client's
	// credentials, a renewal adopts them, then the API refuses the older
	// version's token.
	st := cl.state.Load()
	rec := f.stored(t, "c")
	if _, err := f.mem.CompareAndSwap(ctx, "c", rec.Version, rec.Credentials); err != nil {
		t.Fatal(err)
	}
	if err := cl.refresh(ctx, st.version, false); err != nil || cl.state.Load() == st {
		t.Fatalf("the newer version was not adopted: %v", err)
	}
	cl.reject(st)
	if err := cl.refresh(ctx, st.version, true); err != nil {
		t.Fatal(err)
	}
	if at := cl.Credentials()["access_token"]; at == st.credentials["access_token"] {
		t.Errorf("after the 401 the client still holds %v", at)
	}
}
