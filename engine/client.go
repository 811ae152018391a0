package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/nesting"
	"github.com/connspec/connspec/internal/redact"
	"github.com/connspec/connspec/spec"
)

// Client is an authenticated client for one connection. Its HTTPClient
// sends requests to the connector's API with the credentials applied, and
// refreshes them (once, shared by concurrent requests) when they expire.
type Client struct {
	eng       *Engine
	connector *Connector
	auth      *Auth
	conn      Connection
	http      *http.Client
	// wire is the transport the connection's requests go out on, API and
	// token requests alike: the engine's, with what the connection adds
	// below its kind's credentials (a TLS client certificate).
	wire http.RoundTripper
	// baseWire is the wire before any layer above the TLS one: what its
	// methods' fetch and its redactor use.
	baseWire connWire

	state     atomic.Pointer[clientState]
	refreshMu sync.Mutex
	// unsaved is set while the credentials hook has not accepted the
	// current credentials; the next request tries it again first.
	unsaved atomic.Bool
	// noRefresh is set on the clients given to methods that obtain or
	// refresh credentials themselves, so they never recurse into a refresh.
	noRefresh bool
	// session is the client's behaviour of its auth kind (how credentials
	// are obtained, renewed and applied); src is where its credentials
	// come from (the store, the kind's minting, a resolver, the connection
	// a proxy rides on).
	session Session
	src     source
	// startCredentials are the credentials the connection was given.
	startCredentials map[string]any
	// info names the integration.
	info IntegrationInfo
	// keepRaw: proxy connections ride on this client and overlay their
	// configuration on its raw makeApiClient result.
	keepRaw bool
	// defunct holds the error that made the connection need a new
	// authorization (invalid_grant); requests fail fast with it until new
	// credentials appear in the store.
	defunct atomic.Pointer[error]
	// defunctUnrecorded is set while the store has not taken the
	// needs_reauth state of a defunct connection; checkDefunct retries.
	defunctUnrecorded atomic.Bool
	// storedInitial is set when this client stored the connection's first
	// credentials: their state (when to renew them) is recorded with them.
	storedInitial bool
}

// clientState is one version of a connection's credentials and the API
// configuration makeApiClient computed from them.
type clientState struct {
	version     int
	credentials map[string]any
	config      *apiConfig
	redact      *redactor
	// expiresAt is when the access token expires (zero: unknown or never),
	// renewAt when it is renewed before use.
	expiresAt, renewAt time.Time
	// storeVersion is the store's version of these credentials (0: not stored).
	storeVersion int64
	// resolvedUntil is when a resolver's cached result runs out.
	resolvedUntil time.Time
	// raw is makeApiClient's result (args unwrapped), which a proxy
	// connection builds on.
	raw map[string]any
	// base is the underlying connection's state a proxy state was made from.
	base *clientState
	// wire is what the requests made with these credentials go out on,
	// when the session is a Wirer; nil means the client's wire.
	wire http.RoundTripper
	// rejected is set when the API refused these credentials (a 401): they
	// are renewed before the next request and not sent again meanwhile,
	// even when their renewal fails.
	rejected atomic.Bool
}

// Client returns an authenticated client for conn. It validates the
// connection input, obtains credentials (stored, or from the input), runs
// makeApiClient and checks the result.
//
// conn.Connector may name an integration; when an auth resolver is defined
// for it, credentials come from the resolver for conn.Account instead.
func (e *Engine) Client(ctx context.Context, conn Connection) (*Client, error) {
	return e.client(ctx, conn, false)
}

// client is Client; keepRaw keeps makeApiClient's raw result in every state,
// which only a client that proxy connections ride on needs (the rest save
// the memory).
func (e *Engine) client(ctx context.Context, conn Connection, keepRaw bool) (*Client, error) {
	if err := checkConnectionID(conn.ID); err != nil {
		return nil, err
	}
	info, in, c, resolver, err := e.target(conn.Connector)
	if err != nil {
		return nil, err
	}
	if in != nil {
		if conn.ConnectorParameters == nil {
			conn.ConnectorParameters = in.ConnectorParameters
		}
		if conn.Option == "" {
			conn.Option = in.Option
		}
	}
	a, err := c.auth(conn.Option)
	if err != nil {
		return nil, err
	}
	// Walked below (redaction, methods, the store's JSON encoding): their
	// depth is bounded first. Connection input is checked with the form.
	if err := nesting.Check(conn.ConnectorParameters); err != nil {
		return nil, fmt.Errorf("the connector parameters are %w", err)
	}
	if err := nesting.Check(conn.Credentials); err != nil {
		return nil, fmt.Errorf("the credentials are %w", err)
	}
	// What the user typed must match the form, unless a resolver or stored
	// credentials stand in for it.
	validate := resolver == nil && (len(conn.Credentials) == 0 || len(conn.ConnectionParameters) > 0)
	if validate && conn.ID != "" && len(conn.Credentials) == 0 && len(conn.ConnectionParameters) == 0 {
		// A connection known by its ID alone: its stored credentials
		// stand in for the input, as given credentials do.
		if _, err := e.storeGet(ctx, conn.ID); err == nil {
			validate = false
		}
	}
	conn = withSchemaDefaults(c, a, conn)
	if err := a.checkEnabled(c.Spec.Key, conn.Option, conn.ConnectorParameters); err != nil {
		return nil, err
	}
	if validate {
		if err := validateInput(c, a, conn.ConnectionParameters); err != nil {
			return nil, err
		}
	}
	if a.Methods[spec.MethodMakeAPIClient] == nil && (a.Type == nil || a.Type.Methods[spec.MethodMakeAPIClient].Required) {
		return nil, fmt.Errorf("connector %s has no makeApiClient for this option", c.Spec.Key)
	}
	cl := &Client{eng: e, connector: c, auth: a, conn: conn, startCredentials: conn.Credentials, info: info, keepRaw: keepRaw}
	cl.conn.Credentials = nil
	if cl.baseWire, err = e.connectionWire(ctx, c.Spec.Key, a, conn); err != nil {
		return nil, err
	}
	cl.wire = cl.baseWire.rt
	ctx = withWire(ctx, cl.baseWire)
	cl.http = &http.Client{Transport: &transport{client: cl}, CheckRedirect: cl.checkRedirect}
	if cl.session, err = cl.openSession(ctx); err != nil {
		return nil, err
	}
	cl.src = cl.chooseSource(resolver)
	st, changed, err := cl.src.start(ctx, cl)
	if err != nil {
		return nil, err
	}
	cl.state.Store(st)
	if changed {
		if err := cl.persist(ctx, st, "connection input"); err != nil {
			return nil, err
		}
	}
	return cl, nil
}

// initialCredentials finds the credentials a new client starts with: the
// store's (for a connection with an ID), the connection's, or ones made
// from the connection input; new ones are written to the store.
func (cl *Client) initialCredentials(ctx context.Context) (creds map[string]any, version int64, changed bool, err error) {
	e, id := cl.eng, cl.conn.ID
	if id != "" {
		rec, err := e.storeGet(ctx, id)
		if err == nil {
			return rec.Credentials, rec.Version, false, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, 0, false, err
		}
	}
	if len(cl.startCredentials) > 0 {
		creds = maps.Clone(cl.startCredentials)
	} else if creds, changed, err = cl.session.Start(ctx, cl); err != nil {
		return nil, 0, false, err
	}
	if id == "" || len(creds) == 0 {
		return creds, 0, changed, nil
	}
	version, err = e.storeCAS(ctx, id, 0, creds)
	cl.storedInitial = err == nil
	if errors.Is(err, store.ErrConflict) {
		// Another client stored credentials first: theirs win.
		rec, err := e.storeGet(ctx, id)
		return rec.Credentials, rec.Version, false, err
	}
	// A store's error may quote what it was given.
	return creds, version, changed, redactError(err, cl.auth.redactor(cl.conn.ConnectionParameters, creds, cl.conn.ConnectorParameters))
}

// buildState runs makeApiClient for one version of the credentials.
func (cl *Client) buildState(ctx context.Context, creds map[string]any, version int) (*clientState, error) {
	// Stored, resolved or returned by a provider: walked below (redaction,
	// methods, the store's JSON), so their depth is bounded first.
	if err := nesting.Check(creds); err != nil {
		return nil, fmt.Errorf("the credentials are %w", err)
	}
	// Connection input is redacted as well as credentials (its secret fields:
	// with OAuth it is not part of the credentials, and may hold the app's
	// client secret); its shown fields stay readable even inside credentials.
	r := cl.auth.redactor(cl.conn.ConnectionParameters, creds, cl.conn.ConnectorParameters).With(cl.baseWire.secrets...)
	ctx = withWire(ctx, cl.baseWire)
	if sh, ok := cl.session.(SecretHolder); ok {
		r = r.With(sh.Secrets()...)
	}
	var wire http.RoundTripper
	if w, ok := cl.session.(Wirer); ok {
		var secrets []string
		var err error
		if wire, secrets, err = w.Wire(cl.wire, creds); err != nil {
			return nil, redactError(err, r)
		}
		r = r.With(secrets...)
	}
	m := cl.auth.Methods[spec.MethodMakeAPIClient]
	// A proxy without makeApiClient takes the underlying client as it is.
	var out any = map[string]any{}
	if m != nil {
		var err error
		if out, err = cl.eng.runMethod(ctx, m, cl.vars(creds), nil, r); err != nil {
			return nil, err
		}
	}
	failed := func(err error) error {
		if m == nil {
			return redactError(err, r)
		}
		return redactedMethodError(m, err, r)
	}
	// Aliases are renamed before a proxy's overlay, so that its baseUrl
	// replaces the underlying baseUri instead of standing beside it.
	raw, err := apiClientResult(out)
	if err != nil {
		return nil, failed(err)
	}
	allowed, hosts := cl.auth.Spec.AllowedHosts, cl.auth.hosts
	input := inputValues(cl.conn.ConnectionParameters)
	if o, ok := cl.src.(configOverlay); ok {
		raw, allowed, hosts, input = o.overlay(raw, allowed, hosts, input)
	}
	input = resourceBoundInput(raw, creds, input)
	cfg, err := parseAPIConfig(raw, hosts, allowed, input, stringLeaves(creds))
	if err != nil {
		return nil, failed(err)
	}
	if m != nil && m.ResponseHandlers != nil {
		cfg.handlers = m.ResponseHandlers
	}
	// Values derived from credentials contain them and are redacted through
	// them; a header or parameter named like a secret is redacted whole too.
	extra := make([]string, 0, 4)
	for k, vs := range cfg.headers {
		if redact.SecretName(k) {
			extra = append(extra, vs...)
		}
	}
	for k, vs := range cfg.query {
		if redact.SecretName(k) {
			extra = append(extra, vs...)
		}
	}
	if cfg.basic != nil {
		extra = append(extra, cfg.basic[1], basicAuthValue(cfg.basic[0], cfg.basic[1]))
	}
	if !cl.keepRaw {
		raw = nil
	}
	st := &clientState{version: version, credentials: creds, config: cfg, redact: r.With(extra...), expiresAt: parseExpiresAt(creds["expires_at"]), raw: raw}
	st.wire = wire
	if !st.expiresAt.IsZero() {
		// Renew the refresh margin before expiry, but never sooner than
		// halfway through what is left: a token that lives one second must
		// not be renewed on every request because the margin is a minute.
		left := st.expiresAt.Sub(cl.eng.now())
		st.renewAt = st.expiresAt.Add(-min(cl.refreshMargin(), max(left/2, 0)))
	}
	return st, nil
}

// vars are the variables every method of the connection receives.
func (cl *Client) vars(creds map[string]any) map[string]any {
	return map[string]any{
		"credentials":          creds,
		"connectorParameters":  orEmpty(cl.conn.ConnectorParameters),
		"connectionParameters": orEmpty(cl.conn.ConnectionParameters),
		// integration.app's docs name the connection input so too.
		"connectionInput": orEmpty(cl.conn.ConnectionParameters),
	}
}

// HTTPClient returns the authenticated *http.Client. Relative URLs are
// joined to the connector's baseUri; absolute URLs must be on a host the
// connector allows.
func (cl *Client) HTTPClient() *http.Client { return cl.http }

// Credentials returns a copy of the current credentials.
func (cl *Client) Credentials() map[string]any { return maps.Clone(cl.state.Load().credentials) }

// Connection returns the connection with its current credentials.
func (cl *Client) Connection() Connection {
	c := cl.conn
	c.Credentials = cl.Credentials()
	return c
}

// BaseURL returns the API base URL of the current configuration.
func (cl *Client) BaseURL() *url.URL {
	u := *cl.state.Load().config.base
	return &u
}

// Redact replaces every credential value in s, for logs and output.
func (cl *Client) Redact(s string) string { return cl.state.Load().redact.String(s) }

// persist tells the credentials hook about st.
func (cl *Client) persist(ctx context.Context, st *clientState, reason string) error {
	h := cl.eng.onCredentials
	if h == nil {
		return nil
	}
	change := CredentialsChange{Connection: cl.conn, Version: st.version, Reason: reason}
	change.Connection.Credentials = maps.Clone(st.credentials)
	if err := h(ctx, change); err != nil {
		cl.unsaved.Store(true)
		return redactError(fmt.Errorf("saving new credentials: %w", err), st.redact)
	}
	cl.unsaved.Store(false)
	return nil
}

// canRefresh reports whether the credentials of st can be renewed (by
// their source: the kind, the connector's refreshCredentials, a resolver,
// the connection a proxy rides on).
func (cl *Client) canRefresh(st *clientState) bool {
	return !cl.noRefresh && cl.src.canRenew(cl, st)
}

// needsRefresh reports whether st should be renewed before it is used: the
// API refused it, or its source says it is due (an access token still to
// be fetched, expiry within the refresh margin).
func (cl *Client) needsRefresh(st *clientState) bool {
	if !cl.canRefresh(st) {
		return false
	}
	if st.rejected.Load() {
		return true
	}
	return cl.src.due(cl, st)
}

// usable reports whether st's access token can still be sent.
func (cl *Client) usable(st *clientState) bool {
	if st.rejected.Load() || !cl.session.Ready(st.credentials) {
		return false
	}
	return st.expiresAt.IsZero() || cl.eng.now().Before(st.expiresAt)
}

func (cl *Client) refreshMargin() time.Duration { return cl.session.RefreshMargin() }

// wireOf returns what st's requests go out on.
func (cl *Client) wireOf(st *clientState) http.RoundTripper {
	if st.wire != nil {
		return st.wire
	}
	return cl.wire
}

// methodClient returns a client over the same credentials that does not
// refresh, for methods that obtain or refresh credentials themselves.
func (cl *Client) methodClient(st *clientState) *Client {
	mc := &Client{eng: cl.eng, connector: cl.connector, auth: cl.auth, conn: cl.conn, noRefresh: true, session: cl.session, src: cl.src, info: cl.info, wire: cl.wire, baseWire: cl.baseWire}
	mc.http = &http.Client{Transport: &transport{client: mc}, CheckRedirect: mc.checkRedirect}
	mc.state.Store(st)
	return mc
}

// lock takes the connection's renewal lock: per connection ID across the
// engine's clients, else per client.
func (cl *Client) lock() func() {
	if cl.conn.ID != "" && cl.src.shared() {
		return cl.eng.lock(cl.conn.ID)
	}
	cl.refreshMu.Lock()
	return cl.refreshMu.Unlock
}

// refresh renews the credentials of version seen. Concurrent callers share
// one renewal: whoever takes the lock second finds a newer version (in the
// client, or in the store from another client or process) and uses it.
// New credentials are written to the store with compare-and-swap before
// they are used; on a conflict the stored ones win.
//
// force is set when the API rejected the credentials (a 401): a resolver
// is then asked with ForceRefresh instead of answering from its cache.
//
// The renewal runs detached from ctx's cancellation (detachRenewal): once
// the token request is sent it is finished and stored, while a caller that
// gives up returns at once with its context's error.
func (cl *Client) refresh(ctx context.Context, seen int, force bool) error {
	return detachRenewal(ctx, func(ctx context.Context) error {
		unlock := cl.lock()
		defer unlock()
		if err := callerGone(ctx); err != nil {
			return err // gave up while waiting for the lock: nothing sent
		}
		cur := cl.state.Load()
		if cur.version != seen && !cur.rejected.Load() {
			// Renewed meanwhile (a newer version that the API refused, say
			// the store's copy of the same credentials, is renewed again).
			return nil
		}
		return cl.src.renew(ctx, cl, cur, force)
	})
}

// renewStored is the renewal of stored credentials, the one mechanism every
// renewable kind gets, run with the connection's lock held: it fails fast
// on a defunct connection, holds the store's lock across instances, writes
// what an earlier renewal could not store, adopts a newer stored version
// instead of renewing, and stores the renewal with compare-and-swap.
//
// ctx may be a detached renewal's (detachRenewal): the steps before the
// token request follow the caller's context, those from it on do not.
func (cl *Client) renewStored(ctx context.Context, cur *clientState, force bool) error {
	caller := callerContext(ctx)
	if cl.defunct.Load() != nil {
		// The provider refused the refresh token (invalid_grant) while this
		// request waited for the lock: it is not presented again; only new
		// credentials in the store revive the connection.
		return cl.checkDefunctLocked(caller)
	}
	if locker, ok := cl.eng.store.(store.Locker); ok && cl.conn.ID != "" {
		// Other processes sharing the store renew this connection too: hold
		// the store's lock around the token request, and re-read first.
		unlockStore, err := locker.Lock(caller, cl.conn.ID)
		if err != nil {
			return store.Unavailable(err)
		}
		// Released whatever the caller does (a lock tied to a cancelled
		// context must still be let go).
		defer unlockStore()
	}
	if err := cl.flushUnstored(caller); err != nil {
		return err
	}
	if adopted, err := cl.adoptStored(caller, cur); err != nil {
		return err
	} else if adopted {
		if next := cl.state.Load(); force && cl.usable(next) || !force && !cl.needsRefresh(next) {
			return nil
		}
		// The API refused the token, and what the store holds has expired
		// too (stored a while ago, while this client waited), or what the
		// store holds is due itself (the application rewrote the record,
		// say to rotate a token exchange's subject token): renew it
		// rather than send it.
		cur = cl.state.Load()
	}
	if err := callerGone(ctx); err != nil {
		return err // nothing sent yet: nothing to finish
	}
	// From here on the token request is sent: ctx, detached from the
	// caller, carries it and the storing of its answer to the end.
	began := time.Now()
	spanCtx, endSpan := cl.startRenewal(ctx)
	creds, err := cl.renew(spanCtx, cur)
	endSpan(err)
	if h := cl.eng.onRefresh; h != nil {
		conn := cl.conn
		conn.Credentials = nil
		h(conn, time.Since(began), err)
	}
	if errors.Is(err, ErrConnectionIsDefunct) {
		cl.defunct.Store(&err)
	}
	if err != nil {
		if !cl.recordState(ctx, cur, err) && errors.Is(err, ErrConnectionIsDefunct) {
			// checkDefunct writes it again: a connection that needs a new
			// authorization must not look connected.
			cl.defunctUnrecorded.Store(true)
		}
		return err
	}
	return cl.commit(ctx, cur, creds)
}

// reject marks st as refused by the API, and the current state as well when
// it holds the same credentials (a newer version of them: the store caught
// up with a write). adoptStored carries the mark over the other way round.
func (cl *Client) reject(st *clientState) {
	st.rejected.Store(true)
	if cur := cl.state.Load(); cur != st && sameCredentials(cur, st) {
		cur.rejected.Store(true)
	}
}

// sameCredentials reports whether two states hold the same credentials
// (compared as printed: a store may give numbers back as another type).
func sameCredentials(a, b *clientState) bool {
	return fmt.Sprint(a.credentials) == fmt.Sprint(b.credentials)
}

// recordState writes what the last renewal showed to the store: connected
// (with the next planned renewal), or needs_reauth after invalid_grant, with
// the failure's text (already free of secrets). It is advisory: a failure to
// write it is logged, not returned; recordState reports whether it was
// written.
func (cl *Client) recordState(ctx context.Context, st *clientState, renewErr error) bool {
	if cl.conn.ID == "" || !cl.src.shared() {
		return true
	}
	state := store.State{Status: store.StatusConnected, NextRefresh: st.renewAt}
	if renewErr == nil && cl.canRefresh(st) {
		state.RefreshExpiresAt, state.RenewBy = cl.eng.refreshDeadline(cl.conn.Connector, st.credentials, cl.eng.now())
	}
	if renewErr != nil {
		state.LastError = renewErr.Error()
		if errors.Is(renewErr, ErrConnectionIsDefunct) {
			state.Status = store.StatusNeedsReauth
		} else if rec, err := cl.eng.storeGet(ctx, cl.conn.ID); err != nil {
			return false
		} else {
			// A passing failure tells nothing of the credentials: the
			// status stays (needs_reauth from another client or instance
			// that had the refresh token refused, say), and so does when
			// the refresh token lapses.
			if rec.State.Status != "" {
				state.Status = rec.State.Status
			}
			state.RefreshExpiresAt, state.RenewBy = rec.State.RefreshExpiresAt, rec.State.RenewBy
		}
	}
	if err := cl.eng.store.SetState(ctx, cl.conn.ID, state); err != nil && !errors.Is(err, store.ErrNotFound) {
		cl.eng.logger.Warn("connspec: recording connection state failed", "connection", cl.conn.ID, "error", st.redact.String(err.Error()))
		return false
	}
	return true
}

// checkDefunct returns the error that made the connection defunct, unless
// new credentials have been stored since (a new authorization).
func (cl *Client) checkDefunct(ctx context.Context) error {
	if cl.defunct.Load() == nil {
		return nil
	}
	unlock := cl.lock()
	defer unlock()
	return cl.checkDefunctLocked(ctx)
}

// checkDefunctLocked is checkDefunct with the connection's lock held.
func (cl *Client) checkDefunctLocked(ctx context.Context) error {
	d := cl.defunct.Load()
	if d == nil {
		return nil
	}
	adopted, err := cl.adoptStored(ctx, cl.state.Load())
	if err != nil {
		return *d
	}
	if !adopted {
		if cl.defunctUnrecorded.Load() && cl.recordState(ctx, cl.state.Load(), *d) {
			cl.defunctUnrecorded.Store(false)
		}
		return *d
	}
	cl.defunct.Store(nil)
	cl.defunctUnrecorded.Store(false)
	return nil
}

// adoptStored switches to the store's credentials when they are newer.
func (cl *Client) adoptStored(ctx context.Context, cur *clientState) (bool, error) {
	if cl.conn.ID == "" {
		return false, nil
	}
	rec, err := cl.eng.storeGet(ctx, cl.conn.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.Version <= cur.storeVersion {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	next, err := cl.buildState(ctx, rec.Credentials, cur.version+1)
	if err != nil {
		return false, err
	}
	next.storeVersion = rec.Version
	cl.state.Store(next)
	if cur.rejected.Load() && sameCredentials(next, cur) {
		// After Store, so that this or reject sees the other's change.
		next.rejected.Store(true)
	}
	return true, nil
}

// unstoredCredentials are renewed credentials the store failed to write:
// they replace the store's version base.
type unstoredCredentials struct {
	credentials map[string]any
	base        int64
}

// flushUnstored writes the credentials a renewal of this connection in this
// engine could not store. It runs with the connection's lock held, before
// any client renews from (or adopts) the store's credentials: those are
// older, and the provider may have revoked their refresh token when it
// rotated it. While the store still fails, it returns the store's error,
// and nothing is renewed.
func (cl *Client) flushUnstored(ctx context.Context) error {
	v, ok := cl.eng.unstored.Load(cl.conn.ID)
	if !ok {
		return nil
	}
	u := v.(*unstoredCredentials)
	if _, err := cl.eng.storeCAS(ctx, cl.conn.ID, u.base, u.credentials); err != nil && !errors.Is(err, store.ErrConflict) {
		return redactError(fmt.Errorf("storing new credentials: %w", err), newRedactor(u.credentials))
	}
	// Stored now, or a conflict: the write went through after all (its
	// answer was lost), or another instance stored newer credentials.
	// Either way adoptStored finds them.
	cl.eng.unstored.CompareAndDelete(cl.conn.ID, u)
	return nil
}

// renew obtains new credentials: the connector's refreshCredentials (its
// result merged into the credentials), or the kind's renewal.
func (cl *Client) renew(ctx context.Context, cur *clientState) (map[string]any, error) {
	if m := cl.auth.Methods[spec.MethodRefreshCredentials]; m != nil {
		out, err := cl.eng.runMethod(ctx, m, cl.vars(maps.Clone(cur.credentials)), cl.methodClient(cur), cur.redact)
		if err != nil {
			return nil, err
		}
		update, ok := out.(map[string]any)
		if !ok {
			return nil, methodError(m, fmt.Errorf("must return an object of credentials, not %s", describeValue(out)))
		}
		creds := maps.Clone(cur.credentials)
		maps.Copy(creds, update)
		return creds, nil
	}
	return cl.session.Renew(ctx, cl, cur)
}

// commit makes creds the connection's credentials: stored first (with
// compare-and-swap), then used, then reported to the credentials hook.
func (cl *Client) commit(ctx context.Context, cur *clientState, creds map[string]any) error {
	var version int64
	if cl.conn.ID != "" {
		v, err := cl.eng.storeCAS(ctx, cl.conn.ID, cur.storeVersion, creds)
		switch {
		case errors.Is(err, store.ErrConflict):
			// Someone else renewed meanwhile: theirs are newer.
			_, err := cl.adoptStored(ctx, cur)
			return err
		case err != nil:
			// Keep the new credentials in use (a rotated refresh token must
			// not be lost), report the failure, and write them before this
			// connection is renewed again (flushUnstored): until then, the
			// store holds a refresh token that may be spent.
			cl.eng.unstored.Store(cl.conn.ID, &unstoredCredentials{credentials: creds, base: cur.storeVersion})
			if next, berr := cl.buildState(ctx, creds, cur.version+1); berr == nil {
				next.storeVersion = cur.storeVersion
				cl.state.Store(next)
				cl.unsaved.Store(true)
			}
			// The store's error may quote what it was given: the new
			// credentials, which cur.redact does not know yet.
			return redactError(fmt.Errorf("storing new credentials: %w", err), cur.redact.With(stringLeaves(creds)...))
		}
		version = v
	}
	next, err := cl.buildState(ctx, creds, cur.version+1)
	if err != nil {
		return err
	}
	next.storeVersion = version
	cl.state.Store(next)
	cl.eng.logger.Debug("connspec: credentials refreshed", "connector", cl.connector.Spec.Key, "connection", cl.conn.ID, "version", next.version)
	cl.recordState(ctx, next, nil)
	return cl.persist(ctx, next, "refresh")
}

func (cl *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !cl.state.Load().config.allows(req.URL) {
		// Do not follow: the credentials would go along to another host.
		return http.ErrUseLastResponse
	}
	return nil
}

// RequestOption adds to a request made with the JSON helpers.
type RequestOption func(*http.Request)

// WithQuery adds query parameters.
func WithQuery(q url.Values) RequestOption {
	return func(r *http.Request) {
		v := r.URL.Query()
		for k, vs := range q {
			for _, x := range vs {
				v.Add(k, x)
			}
		}
		r.URL.RawQuery = v.Encode()
	}
}

// WithHeader sets a request header.
func WithHeader(key, value string) RequestOption {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

// Get sends GET path and returns the decoded JSON body (or the text of a
// non-JSON body). A non-2xx answer is an *HTTPError.
func (cl *Client) Get(ctx context.Context, path string, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodGet, path, nil, opts...)
}

// Post sends body as JSON.
func (cl *Client) Post(ctx context.Context, path string, body any, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodPost, path, body, opts...)
}

// Put sends body as JSON.
func (cl *Client) Put(ctx context.Context, path string, body any, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodPut, path, body, opts...)
}

// Patch sends body as JSON.
func (cl *Client) Patch(ctx context.Context, path string, body any, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodPatch, path, body, opts...)
}

// Delete sends DELETE path.
func (cl *Client) Delete(ctx context.Context, path string, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodDelete, path, nil, opts...)
}

// MaxResponseBody bounds, in bytes, the response bodies the JSON helpers,
// response handlers and the fetch and axios of JavaScript methods read.
const MaxResponseBody = 32 << 20

// Do sends one request with an optional JSON body and decodes the answer.
func (cl *Client) Do(ctx context.Context, method, path string, body any, opts ...RequestOption) (any, error) {
	resp, err := cl.send(ctx, method, path, body, opts...)
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// apiResponse is a decoded 2xx answer with its status and headers.
type apiResponse struct {
	status int
	header http.Header
	body   any
}

// send is Do keeping the status and headers of the answer.
func (cl *Client) send(ctx context.Context, method, path string, body any, opts ...RequestOption) (*apiResponse, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		// A *url.Error repeats the whole URL, secrets and all: keep its
		// cause only. Method and path are quoted, as they may carry
		// control characters.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("request %q %q: %w", method, cl.Redact(path), err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for _, o := range opts {
		o(req)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		// net/http's *url.Error quotes the request URL, whose query may
		// carry a credential (apiClient.get(path, {key: credentials.key})).
		return nil, redactError(unwrapURLError(err), cl.state.Load().redact)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(data) > MaxResponseBody {
		// Never a body cut short: text would come back truncated without
		// a word. HTTPClient() streams bodies of any size.
		return nil, fmt.Errorf("%s %s: the response body is larger than the limit of %d MiB (use HTTPClient to stream it)", method, cl.Redact(resp.Request.URL.Path), MaxResponseBody>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{Method: method, URL: cl.Redact(resp.Request.URL.String()), Status: resp.StatusCode, Body: data}
	}
	v, err := parseBody(resp.Header.Get("Content-Type"), data)
	if err != nil {
		return nil, err
	}
	return &apiResponse{status: resp.StatusCode, header: resp.Header, body: v}, nil
}

// decodeBody returns JSON as Go values, anything else (and JSON nested too
// deeply to decode safely) as text.
func decodeBody(contentType string, data []byte) any {
	v, err := parseBody(contentType, data)
	if err != nil {
		return string(data)
	}
	return v
}

// parseBody returns JSON as Go values and anything else as text; JSON
// nested more than nesting.Max levels is an error, before it is decoded.
func parseBody(contentType string, data []byte) (any, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if strings.Contains(contentType, "json") || trimmed[0] == '{' || trimmed[0] == '[' {
		if err := nesting.CheckJSON(trimmed); err != nil {
			return nil, fmt.Errorf("the response body is %w", err)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if dec.Decode(&v) == nil {
			return normalizeJSON(v), nil
		}
	}
	return string(data), nil
}

// normalizeJSON turns whole float64 numbers into int64, as formulas and
// JavaScript results use.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeJSON(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalizeJSON(x)
		}
	case float64:
		if t == float64(int64(t)) && t < 1<<53 && t > -(1<<53) {
			return int64(t)
		}
	}
	return v
}

// unwrapURLError drops net/http's *url.Error wrapper around the engine's own
// errors, whose messages already say what happened.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var ce *ConnectionError
		var he *HostError
		var me *MethodError
		if errors.As(ue.Err, &ce) || errors.As(ue.Err, &he) || errors.As(ue.Err, &me) {
			return ue.Err
		}
	}
	return err
}

// tokenHTTPClient sends the connection's token requests: over its wire,
// never following redirects.
func (cl *Client) tokenHTTPClient() *http.Client { return tokenHTTPClient(cl.wire) }
