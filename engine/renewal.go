package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// RefreshTokenExpiresKey is the credentials field in which the engine keeps
// when the refresh token lapses, when the provider told it with the token
// (refresh_token_expires_in, QuickBooks' x_refresh_token_expires_in,
// refresh_token_expires_at): RFC 3339, like expires_at.
const RefreshTokenExpiresKey = "refresh_token_expires_at"

// refreshTokenRenewAhead is how long before its refresh token lapses a
// connection is renewed in the background at the latest (or half the
// token's remaining life, when that is shorter).
const refreshTokenRenewAhead = 7 * 24 * time.Hour

// WithInactivityLimits tells the engine after how long unused the refresh
// tokens of connectors lapse (Xero: 60 days, say), by the name connections
// give as Connection.Connector. Background renewal (RunRenewal) renews such
// connections before they lapse, whether or not anything uses them.
func WithInactivityLimits(limits map[string]time.Duration) Option {
	return func(e *Engine) { e.inactivity = maps.Clone(limits) }
}

// refreshDeadline is when the refresh token of creds lapses (told by the
// provider, or its inactivity limit from now, whichever is earlier) and by
// when background renewal must renew it: the earlier of 7 days and half
// its remaining life before it lapses, less up to a tenth of that margin at
// random, so that connections made together are not all due together.
func (e *Engine) refreshDeadline(connector string, creds map[string]any, now time.Time) (expires, renewBy time.Time) {
	expires = parseExpiresAt(creds[RefreshTokenExpiresKey])
	if limit := e.inactivity[connector]; limit > 0 {
		if idle := now.Add(limit); expires.IsZero() || idle.Before(expires) {
			expires = idle
		}
	}
	if expires.IsZero() {
		return time.Time{}, time.Time{}
	}
	ahead := max(min(refreshTokenRenewAhead, expires.Sub(now)/2), 0)
	if ahead > 10 {
		ahead += rand.N(ahead / 10)
	}
	return expires.UTC(), expires.Add(-ahead).UTC()
}

// errNotDue: a claimed connection turned out renewed already.
var errNotDue = errors.New("renewed meanwhile")

// ErrNotRenewable: the connection's credentials cannot be renewed (no
// refresh token, a kind without renewal).
var ErrNotRenewable = errors.New("the connection's credentials cannot be renewed")

// Renew renews a stored connection's credentials now, whether or not they
// are due, through the same coordination as a renewal at request time: the
// engine's lock of the connection, the store's Locker across processes, a
// re-read of the store (when another client or instance renewed meanwhile,
// its credentials are adopted and nothing is renewed) and a
// compare-and-swap write. A rotating refresh token is therefore never
// spent twice, however background and request-time renewals interleave.
func (e *Engine) Renew(ctx context.Context, conn Connection) error {
	if conn.ID == "" {
		return errors.New("engine: Renew needs a stored connection (a Connection with an ID)")
	}
	cl, err := e.Client(ctx, conn)
	if err != nil {
		return err
	}
	return cl.Renew(ctx)
}

// Renew renews the client's credentials now (see Engine.Renew).
func (cl *Client) Renew(ctx context.Context) error {
	if err := cl.checkDefunct(ctx); err != nil {
		return err
	}
	st := cl.state.Load()
	if !cl.canRefresh(st) {
		return fmt.Errorf("connection %s: %w", cl.conn.ID, ErrNotRenewable)
	}
	return cl.refresh(ctx, st.version, false)
}

// RenewalOptions configures background renewal (RunRenewal). Zero values
// take the defaults given.
type RenewalOptions struct {
	// KeepFresh names the connectors (as Connection.Connector) whose
	// access tokens are renewed before they expire even when nothing uses
	// them; "*" names all. Connections whose refresh token would lapse are
	// renewed whatever this says.
	KeepFresh []string
	// Ahead is the keep-fresh window: a connection is renewed once its
	// planned renewal (store.State.NextRefresh) is within Ahead. Default 5m.
	Ahead time.Duration
	// Rate bounds the renewals this instance starts per second. Default 10.
	Rate float64
	// Concurrency bounds the renewals this instance runs at once. Default 4.
	Concurrency int
	// Interval is how often the store is asked for due connections when
	// none were left (jittered by ±20%). Default 10s.
	Interval time.Duration
	// ClaimFor is how long a claim keeps other instances off a connection:
	// an instance killed holding claims loses them after it. Default 2m.
	ClaimFor time.Duration
	// Backoff is the wait before a connection whose renewal failed for a
	// passing reason is tried again, doubled after each failure up to
	// MaxBackoff. Defaults 30s and 1h.
	Backoff, MaxBackoff time.Duration
	// Connection turns a catalog entry into the Connection to renew
	// (serve adds its connector parameters). Default: ID, connector,
	// option, account and input as stored.
	Connection func(store.ConnectionInfo) Connection
	// OnRenewal, when set, is told the outcome of every renewal attempted
	// (err nil on success; a claimed connection found renewed meanwhile is
	// not attempted); for metrics and tests. It must not block.
	OnRenewal func(id string, err error)
}

func (o *RenewalOptions) defaults() {
	if o.Ahead <= 0 {
		o.Ahead = 5 * time.Minute
	}
	if o.Rate <= 0 {
		o.Rate = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.ClaimFor <= 0 {
		o.ClaimFor = 2 * time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = 30 * time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(time.Hour, o.Backoff)
	}
	if o.Connection == nil {
		o.Connection = catalogConnection
	}
}

// catalogConnection is the Connection of a catalog entry.
func catalogConnection(info store.ConnectionInfo) Connection {
	conn := Connection{ID: info.ID, Connector: info.Connector, Option: info.Option, ConnectionParameters: info.Input}
	if info.Account != "" {
		conn.Account = &Account{ID: info.Account}
	}
	return conn
}

// renewal is one running RunRenewal.
type renewal struct {
	e       *Engine
	o       RenewalOptions
	queue   store.RenewalQueue
	catalog store.Catalog
	log     *slog.Logger

	mu       sync.Mutex
	failures map[string]int // passing failures in a row, by connection
}

// RunRenewal renews connections in the background until ctx ends: those
// whose refresh token would otherwise lapse (store.State.RenewBy: told by
// the provider, or WithInactivityLimits) and those of the KeepFresh
// connectors whose access token is about to expire. The engine's store
// must be a store.RenewalQueue and a store.Catalog (the Memory, SQLite and
// PostgreSQL stores are).
//
// Several instances sharing a store run it at once: the store hands each
// due connection to one of them (a claim that lapses after ClaimFor, so
// that a killed instance's connections go to another), each renews at most
// Rate connections per second, Concurrency at a time, through Renew.
// A refused refresh token (invalid_grant) marks the connection
// needs_reauth, which is never due again until it is authorised anew; a
// passing failure is retried after Backoff, doubling up to MaxBackoff.
//
// It returns ctx's error when ctx ends, or an error at once when the store
// cannot hand out due connections.
func (e *Engine) RunRenewal(ctx context.Context, o RenewalOptions) error {
	q, ok := e.store.(store.RenewalQueue)
	if !ok {
		return fmt.Errorf("engine: background renewal needs a store that hands out due connections (store.RenewalQueue); %T is not one", e.store)
	}
	cat, ok := e.store.(store.Catalog)
	if !ok {
		return fmt.Errorf("engine: background renewal needs a store that lists connections (store.Catalog); %T is not one", e.store)
	}
	o.defaults()
	r := &renewal{e: e, o: o, queue: q, catalog: cat, log: e.logger, failures: map[string]int{}}
	return r.run(ctx)
}

func (r *renewal) run(ctx context.Context) error {
	o := r.o
	// A batch is what the rate lets this instance start in a quarter of
	// ClaimFor: its claims do not lapse while it waits its turn.
	batch := max(o.Concurrency, min(1000, int(o.Rate*o.ClaimFor.Seconds()/4)))
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
	defer tick.Stop()
	slots := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	query := store.DueQuery{Limit: batch, ClaimFor: o.ClaimFor, FreshAhead: o.Ahead}
	for _, c := range o.KeepFresh {
		if c == "*" {
			query.FreshAll = true
		} else {
			query.FreshConnectors = append(query.FreshConnectors, c)
		}
	}
	for {
		claims, err := r.queue.ClaimDue(ctx, query)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("connspec: background renewal: claiming due connections failed", "error", err.Error())
		}
		claimed := time.Now()
		for i, c := range claims {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
			if ctx.Err() != nil || time.Since(claimed) > o.ClaimFor/2 {
				// Unstarted claims go back: another instance may take them.
				for _, c := range claims[i:] {
					r.queue.Release(context.WithoutCancel(ctx), c, 0)
				}
				break
			}
			select {
			case <-ctx.Done():
			case slots <- struct{}{}:
			}
			if ctx.Err() != nil {
				for _, c := range claims[i:] {
					r.queue.Release(context.WithoutCancel(ctx), c, 0)
				}
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				r.renewOne(ctx, c)
			}()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(claims) == batch {
			continue // more may be due
		}
		wait := time.Duration(float64(o.Interval) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// renewOne renews one claimed connection and releases the claim, held for
// as long as the connection must not be tried again.
func (r *renewal) renewOne(ctx context.Context, c store.Claim) {
	// A renewal once started is finished, even when ctx ends (serve shutting
	// down): cut short, it could leave a rotated refresh token unstored.
	// The token request's own timeout bounds it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	hold, err := r.renew(wctx, c)
	if r.o.OnRenewal != nil && !errors.Is(err, errNotDue) {
		r.o.OnRenewal(c.ID, err)
	}
	if err := r.queue.Release(context.WithoutCancel(ctx), c, hold); err != nil {
		r.log.Warn("connspec: background renewal: releasing a claim failed", "connection", c.ID, "error", err.Error())
	}
}

func (r *renewal) renew(ctx context.Context, c store.Claim) (hold time.Duration, err error) {
	id := c.ID
	info, err := r.catalog.GetConnection(ctx, id)
	var cl *Client
	if err == nil {
		cl, err = r.e.Client(ctx, r.o.Connection(info))
	}
	if err == nil && cl.state.Load().storeVersion != c.Version {
		// Renewed since it was found due (at request time, or by another
		// instance): renewing again would spend a refresh token for
		// nothing. Its state says when it is due next; released with no
		// hold, this claim (which may have lapsed while that renewal ran)
		// would make it due again at once and renew it a second time.
		return r.holdFor(ctx, id, 0), errNotDue
	}
	if err == nil {
		err = cl.Renew(ctx)
	}
	switch {
	case errors.Is(err, errNotDue):
		return r.holdFor(ctx, id, hold), err
	case errors.Is(err, store.ErrNotFound):
		return 0, err // deleted meanwhile
	case errors.Is(err, ErrConnectionIsDefunct):
		// Recorded as needs_reauth by the renewal: no longer due.
		r.forget(id)
		return 0, err
	case err != nil:
		if ctx.Err() != nil {
			return 0, err
		}
		r.mu.Lock()
		n := r.failures[id]
		r.failures[id] = n + 1
		r.mu.Unlock()
		wait := r.o.Backoff << min(n, 20)
		if wait <= 0 || wait > r.o.MaxBackoff {
			wait = r.o.MaxBackoff
		}
		// Jittered, so that connections failing together are retried apart.
		wait = time.Duration(float64(wait) * (0.75 + 0.5*rand.Float64()))
		r.log.Warn("connspec: background renewal failed; retrying later", "connection", id, "retry_in", wait.Round(time.Second).String(), "error", err.Error())
		return wait, err
	}
	r.forget(id)
	return r.holdFor(ctx, id, hold), nil
}

// holdFor is how long a connection just renewed (here or elsewhere) is kept
// from being claimed again. When its new credentials are due again at once
// (an access token that lives less than Ahead, a provider that did not
// extend the refresh token), they wait half their remaining time rather
// than be renewed over and over.
func (r *renewal) holdFor(ctx context.Context, id string, hold time.Duration) time.Duration {
	rec, err := r.e.storeGet(ctx, id)
	if err != nil {
		return hold
	}
	now := time.Now()
	st := rec.State
	if !st.RenewBy.IsZero() && !st.RenewBy.After(now) {
		hold = max(hold, min(r.o.MaxBackoff, max(r.o.Backoff, st.RefreshExpiresAt.Sub(now)/2)))
	}
	if !st.NextRefresh.IsZero() && st.NextRefresh.Sub(now) <= r.o.Ahead {
		hold = max(hold, time.Second, st.NextRefresh.Sub(now)/2)
	}
	return hold
}

func (r *renewal) forget(id string) {
	r.mu.Lock()
	delete(r.failures, id)
	r.mu.Unlock()
}
