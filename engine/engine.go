package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/connspec/connspec/engine/jsrt"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/formulas"
	"github.com/connspec/connspec/spec"
	"go.opentelemetry.io/otel/trace"
)

// Engine holds compiled connectors and hands out authenticated clients for
// connections to them. It is safe for concurrent use.
type Engine struct {
	mu         sync.RWMutex
	connectors map[string]*Connector

	transport http.RoundTripper
	// tracer records spans when set (WithTracerProvider); sent is the
	// transport under connections without a client certificate: transport,
	// traced when tracing is on.
	tracer        trace.Tracer
	sent          http.RoundTripper
	connectTo     []ConnectTo
	logger        *slog.Logger
	js            jsrt.Options
	retries       int
	maxRetryWait  time.Duration
	onCredentials CredentialsHook
	onRefresh     RefreshHook
	store         store.Store
	// locks serialises credential renewal per connection ID in this
	// process; the store's compare-and-swap covers other processes.
	locks   map[string]*connLock
	locksMu sync.Mutex
	// unstored holds, per connection ID, renewed credentials the store
	// failed to write (*unstoredCredentials); see Client.flushUnstored.
	unstored sync.Map
	now      func() time.Time
	// metadata caches authorization servers' metadata (discovery.go).
	metadata metadataCache
	// mcp holds protected resource discovery's options and cache
	// (resourcemetadata.go).
	mcp mcpState
	// guard is the transport of connections kept off private networks
	// (layer_netguard.go).
	guard struct {
		once sync.Once
		rt   http.RoundTripper
		err  error
	}
	// registrations makes client registration single flight, and
	// clientName is what clients register as (registration.go).
	registrations     registrationLocks
	clientName        string
	registrationStore store.Store
	// wait sleeps between device flow polls; nil is a timer (tests set it).
	wait func(ctx context.Context, d time.Duration) error

	workspaceKey    string
	workspaceSecret []byte
	appTokenTTL     time.Duration

	integrations  map[string]*Integration
	resolvers     map[string]AuthResolver
	resolverCache sync.Map // integration + account -> resolved

	// certTransports are the transports presenting connections' TLS client
	// certificates (layer_mtls.go).
	certTransports transportCache
	// inactivity holds the refresh-token inactivity limits of connectors
	// (WithInactivityLimits, renewal.go).
	inactivity map[string]time.Duration
}

// CredentialsHook is told every change of a connection's credentials
// (a refresh, credentials obtained from connection input) before the new
// credentials are used, so the embedder can persist them. When it fails, the
// new credentials stay in use in memory, the request that caused the change
// fails with the hook's error, and the hook is called again before the next
// request, so a rotated token is never silently lost.
type CredentialsHook func(ctx context.Context, change CredentialsChange) error

// CredentialsChange describes new credentials of a connection.
type CredentialsChange struct {
	// Connection is the connection as the client was made for it, with the
	// new credentials.
	Connection Connection
	// Version counts the credentials a client has used, from 1.
	Version int
	// Reason is "refresh" or "connection input".
	Reason string
}

// Option configures an Engine.
type Option func(*Engine)

// WithTransport sets the transport under every client (default
// http.DefaultTransport). Tests and proxies use it.
func WithTransport(t http.RoundTripper) Option { return func(e *Engine) { e.transport = t } }

// WithLogger sets the logger for engine events and console.* output of
// methods. Secrets are redacted from everything logged.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.logger = l } }

// WithJSOptions sets limits for JavaScript methods (timeout, memory, ...).
func WithJSOptions(o jsrt.Options) Option { return func(e *Engine) { e.js = o } }

// WithRateLimitRetries sets how many times a request is sent when the API
// answers 429 (default 3 tries in all), and the longest Retry-After the
// client will wait (default 30s; a longer one returns the 429).
func WithRateLimitRetries(tries int, maxWait time.Duration) Option {
	return func(e *Engine) { e.retries, e.maxRetryWait = tries, maxWait }
}

// WithCredentialsHook sets the hook told about every credentials change.
func WithCredentialsHook(h CredentialsHook) Option { return func(e *Engine) { e.onCredentials = h } }

// RefreshHook is told the outcome of every token renewal a client makes
// itself (not ones it adopted from the store): for metrics and alerts. It
// must not block; err is free of secrets.
type RefreshHook func(conn Connection, took time.Duration, err error)

// WithRefreshHook sets the hook told about every renewal.
func WithRefreshHook(h RefreshHook) Option { return func(e *Engine) { e.onRefresh = h } }

// WithStore sets where connection credentials are kept (default: an
// in-memory store per engine). Connections with an ID read their
// credentials from it and write every change to it with compare-and-swap
// before the new credentials are used.
func WithStore(s store.Store) Option { return func(e *Engine) { e.store = s } }

// New returns an engine with no connectors.
func New(opts ...Option) *Engine {
	e := &Engine{connectors: map[string]*Connector{}, retries: 3, maxRetryWait: 30 * time.Second, store: store.NewMemory(), now: time.Now,
		integrations: map[string]*Integration{}, resolvers: map[string]AuthResolver{}}
	for _, o := range opts {
		o(e)
	}
	if e.transport == nil {
		e.transport = http.DefaultTransport
	}
	if len(e.connectTo) > 0 {
		e.transport = &connectToTransport{rules: e.connectTo, next: e.transport}
	}
	e.sent = e.traceWire(e.transport)
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.retries < 1 {
		e.retries = 1
	}
	return e
}

// Load loads, compiles and registers the connector at an operating-system
// path (a connector file or directory). Problems come back as diagnostics.
func (e *Engine) Load(path string) (*Connector, spec.Diagnostics) {
	c, diags := spec.LoadPath(path)
	if c == nil {
		return nil, diags
	}
	cc, more := e.Register(c)
	for i := range more {
		more[i].File = c.DisplayPath(more[i].File)
	}
	return cc, append(diags, more...).Sort()
}

// LoadFS is Load from a file system (for example an embed.FS).
func (e *Engine) LoadFS(fsys fs.FS, path string) (*Connector, spec.Diagnostics) {
	c, diags := spec.Load(fsys, path)
	if c == nil {
		return nil, diags
	}
	cc, more := e.Register(c)
	return cc, append(diags, more...).Sort()
}

// Register compiles a loaded connector and makes it available under its
// key, replacing a connector registered earlier under the same key.
func (e *Engine) Register(c *spec.Connector) (*Connector, spec.Diagnostics) {
	cc, diags := Compile(c)
	if cc == nil {
		return nil, diags
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	prev, had := e.connectors[c.Key]
	e.connectors[c.Key] = cc
	if cycles := proxyCycles(e.connectors, e.integrations); cycles.HasErrors() {
		if had {
			e.connectors[c.Key] = prev
		} else {
			delete(e.connectors, c.Key)
		}
		return nil, append(diags, cycles...).Sort()
	}
	return cc, diags
}

// Connector returns the registered connector with key.
func (e *Engine) Connector(key string) (*Connector, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, ok := e.connectors[key]
	return c, ok
}

// Connectors returns the registered connectors, ordered by key.
func (e *Engine) Connectors() []*Connector {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*Connector, 0, len(e.connectors))
	for _, c := range e.connectors {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Connector) int { return strings.Compare(a.Spec.Key, b.Spec.Key) })
	return out
}

// auth returns the compiled auth block a connection uses.
func (c *Connector) auth(option string) (*Auth, error) {
	if option == "" {
		if c.Auth != nil && c.Auth.Type != nil && c.Auth.Spec.Type != "" {
			return c.Auth, nil
		}
		if len(c.Spec.Auth.OptionKeys) == 1 {
			return c.Options[c.Spec.Auth.OptionKeys[0]], nil
		}
		return nil, fmt.Errorf("connector %s has several ways to connect; choose an option: %v", c.Spec.Key, c.Spec.Auth.OptionKeys)
	}
	a, ok := c.Options[option]
	if !ok {
		return nil, fmt.Errorf("connector %s has no auth option %q (options: %v)", c.Spec.Key, option, c.Spec.Auth.OptionKeys)
	}
	return a, nil
}

// checkEnabled refuses an auth block whose `enabled` flag is off for these
// connector parameters: a disabled option must never quietly connect.
func (a *Auth) checkEnabled(connector, option string, params map[string]any) error {
	on := a.EnabledConstant
	if a.Enabled != nil {
		v, err := a.Enabled.Evaluate(map[string]any{"connectorParameters": params})
		if err != nil {
			// The formula reads connector parameters; its error may quote them.
			err = redactError(err, newRedactor(params))
			return fmt.Errorf("connector %s: evaluating the enabled flag of option %q: %w", connector, option, err)
		}
		on = formulas.Truthy(v)
	}
	if !on {
		return fmt.Errorf("connector %s: auth option %q is not enabled for these connector parameters (see its enabled flag)", connector, option)
	}
	return nil
}

// connLock is a connection's renewal lock, counted by its holders and
// waiters so that it is dropped when none is left (a lock per connection
// ever renewed would otherwise stay for the life of the process: 15 MB
// after renewing 100,000 connections).
type connLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the renewal lock of a connection and returns its release.
func (e *Engine) lock(id string) func() {
	e.locksMu.Lock()
	if e.locks == nil {
		e.locks = map[string]*connLock{}
	}
	l := e.locks[id]
	if l == nil {
		l = &connLock{}
		e.locks[id] = l
	}
	l.refs++
	e.locksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		e.locksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(e.locks, id)
		}
		e.locksMu.Unlock()
	}
}

// tokenHTTPClient sends an authorization flow's token requests: over the
// connection's wire ctx carries (the engine's transport, or one presenting
// its client certificate), never following redirects (a token endpoint
// that redirects is an error).
func (e *Engine) tokenHTTPClient(ctx context.Context) *http.Client {
	return tokenHTTPClient(e.wireOf(ctx).rt)
}

// tokenHTTPClient sends token requests through rt, never following
// redirects.
func tokenHTTPClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     rt,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// overwrite stores credentials for conn.ID whatever version is stored, for a
// completed authorization that replaces the connection's credentials.
func (e *Engine) overwrite(ctx context.Context, conn Connection, creds map[string]any) error {
	id := conn.ID
	if err := checkConnectionID(id); err != nil {
		return err
	}
	// A new authorization revives a connection that needed one; the state
	// is advisory, so a failure to write it is only logged.
	state := store.State{Status: store.StatusConnected}
	state.RefreshExpiresAt, state.RenewBy = e.refreshDeadline(conn.Connector, creds, e.now())
	recordState := func() {
		if err := e.store.SetState(ctx, id, state); err != nil {
			e.logger.Warn("connspec: recording connection state failed", "connection", id, "error", err.Error())
		}
	}
	for range 5 {
		var version int64
		if rec, err := e.storeGet(ctx, id); err == nil {
			version = rec.Version
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if r, ok := e.store.(store.Reauthorizer); ok {
			// Credentials, state and the connection.reauthorized event in
			// one transaction.
			_, err := r.Reauthorize(ctx, id, version, creds)
			if err == nil && !state.RenewBy.IsZero() {
				recordState() // the refresh token's deadline, for background renewal
			}
			if !errors.Is(err, store.ErrConflict) {
				return err
			}
			continue
		}
		_, err := e.storeCAS(ctx, id, version, creds)
		if err == nil {
			recordState()
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return store.ErrConflict
}

// storeGet and storeCAS are the engine's store reads and writes, with the
// store's own failures marked store.ErrUnavailable.
func (e *Engine) storeGet(ctx context.Context, id string) (store.Record, error) {
	rec, err := e.store.Get(ctx, id)
	return rec, store.Unavailable(err)
}

func (e *Engine) storeCAS(ctx context.Context, id string, expected int64, creds map[string]any) (int64, error) {
	v, err := e.store.CompareAndSwap(ctx, id, expected, creds)
	return v, store.Unavailable(err)
}
