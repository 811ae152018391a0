package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/spec"
)

// Kind is the engine half of an auth type: what a client of the type does.
// The spec half (the methods the type allows, for validation, inspect and
// the docs) is the spec.AuthType registered under the same name; Compile
// refuses a type that has no Kind.
//
// How credentials are renewed is not the kind's business beyond Renew: the
// coordination around it (one renewal at a time per connection, the store's
// compare-and-swap, adopting another instance's renewal, the defunct state,
// writing credentials the store failed to take) is one mechanism in the
// engine that every renewable kind gets.
type Kind interface {
	// Open prepares a new client of the kind (evaluates getOAuthConfig,
	// say) and returns what the client keeps of it. cl has its
	// connection, connector and auth block, but no credentials yet.
	Open(ctx context.Context, cl *Client) (Session, error)
}

// Session is one client's behaviour of its kind.
type Session interface {
	// Start returns the credentials of a connection that was given none
	// and has none stored, and whether they are new (to be stored and
	// reported to the credentials hook).
	Start(ctx context.Context, cl *Client) (creds map[string]any, changed bool, err error)
	// CanRenew reports whether Renew can renew creds.
	CanRenew(creds map[string]any) bool
	// Renew returns new credentials in place of cur's.
	Renew(ctx context.Context, cl *Client, cur *clientState) (map[string]any, error)
	// Ready reports whether creds can be sent at all; false (an access
	// token still to be fetched) renews them before the first request.
	Ready(creds map[string]any) bool
	// Apply adds to an outgoing request what makeApiClient's configuration
	// (headers, query, Basic auth) does not: a signature, a token header.
	Apply(req *http.Request, cl *Client, st *clientState) error
	// RefreshMargin is how long before their expiry credentials are renewed.
	RefreshMargin() time.Duration
}

// SecretHolder is a Session that holds secrets of its own besides the
// connection input and the credentials (a private key taken out of a
// pasted key file): the client redacts them wherever it redacts those.
type SecretHolder interface {
	Secrets() []string
}

// Wirer is a Session whose API requests go out on a transport of their
// own, made from the credentials (a DPoP key that signs a proof for every
// request): buildState calls Wire once per version of the credentials,
// and that version's requests go out on its result instead of base (the
// client's wire); a nil transport means base. secrets are what the
// transport holds beyond the credentials' values (a private key's
// members), redacted with them. A Wire error fails the credentials like a
// makeApiClient error. Token requests are the session's own business.
type Wirer interface {
	Wire(base http.RoundTripper, creds map[string]any) (rt http.RoundTripper, secrets []string, err error)
}

// ExpiryClassifier is a Session that recognises an API answer other than
// a 401 declaring its credentials expired (AWS answers 400 or 403 with an
// ExpiredToken code): such an answer renews renewable credentials once and
// sends the request again, as a 401 does. MayBeExpired sees the status
// and headers only; when it is true the body is read (the first
// maxExpiryBody bytes; the caller still gets the whole body, unchanged)
// and Expired decides. A kind answers true only for credentials it can
// renew: a static key the API calls expired is the user's to replace,
// never a renewal loop.
type ExpiryClassifier interface {
	MayBeExpired(resp *http.Response, creds map[string]any) bool
	Expired(resp *http.Response, body []byte) bool
}

// Minter is a Session whose credentials are minted from the engine's own
// configuration: never stored, and minted again when they are due, by each
// client on its own.
type Minter interface {
	Mint(ctx context.Context, cl *Client) (map[string]any, error)
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// RegisterKind registers the engine behaviour of the auth type name (the
// spec.AuthType's Name; aliases find it through it). It replaces a kind of
// the same name, and is meant to be called from init functions.
func RegisterKind(name string, k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kinds[name] = k
}

// lookupKind returns the kind registered for the auth type name.
func lookupKind(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// openSession opens the kind of the client's auth block.
func (cl *Client) openSession(ctx context.Context) (Session, error) {
	name := cl.auth.Spec.Type
	k, ok := lookupKind(name)
	if !ok {
		return nil, fmt.Errorf("connector %s: auth type %q has no engine implementation (engine.RegisterKind)", cl.connector.Spec.Key, name)
	}
	return k.Open(ctx, cl)
}

// KindFunc is a Kind made of its Open function.
type KindFunc func(ctx context.Context, cl *Client) (Session, error)

// Open calls f.
func (f KindFunc) Open(ctx context.Context, cl *Client) (Session, error) { return f(ctx, cl) }

// BaseSession is the behaviour a kind gets unless it says otherwise:
// credentials from the connection input (or the connector's
// getCredentialsFromConnectionParameters), not renewable (a connector's
// refreshCredentials renews any kind), always ready, nothing added to a
// request, the default refresh margin. Kinds embed it.
type BaseSession struct{}

// Start makes credentials from the connection input.
func (BaseSession) Start(ctx context.Context, cl *Client) (map[string]any, bool, error) {
	return cl.credentialsFromInput(ctx, true)
}

// CanRenew reports false.
func (BaseSession) CanRenew(map[string]any) bool { return false }

// Renew fails: only CanRenew credentials are renewed.
func (BaseSession) Renew(context.Context, *Client, *clientState) (map[string]any, error) {
	return nil, fmt.Errorf("these credentials cannot be renewed")
}

// Ready reports true.
func (BaseSession) Ready(map[string]any) bool { return true }

// Apply adds nothing.
func (BaseSession) Apply(*http.Request, *Client, *clientState) error { return nil }

// RefreshMargin is oauth2.DefaultRefreshMargin.
func (BaseSession) RefreshMargin() time.Duration { return oauth2.DefaultRefreshMargin }

// credentialsFromInput makes a new connection's credentials from its input:
// through getCredentialsFromConnectionParameters when the connector has it,
// else the input itself when inputIsCredentials, else it is an error (the
// credentials come from an authorization flow).
func (cl *Client) credentialsFromInput(ctx context.Context, inputIsCredentials bool) (map[string]any, bool, error) {
	conn := cl.conn
	conn.Credentials = cl.startCredentials
	var anonymous *Client
	if m := cl.auth.Methods[spec.MethodGetCredentialsFromConnectionParameters]; m != nil && m.Script != nil {
		// Best effort: a makeApiClient that needs credentials cannot build it.
		if st, err := cl.buildState(ctx, map[string]any{}, 0); err == nil {
			anonymous = cl.methodClient(st)
		}
	}
	return cl.eng.obtainCredentials(ctx, cl.auth, conn, anonymous, inputIsCredentials)
}

// FlowChooser is an [Authorizer] kind whose blocks do not all use its
// flow: it decides from the auth block (github-app: only a block whose
// literal config names the app's slug is connected by installing the app).
type FlowChooser interface {
	HasAuthorizationFlow(a *spec.Auth) bool
}

// HasAuthorizationFlow reports whether connections of the auth block are
// made through an interactive flow ([Engine.AuthorizationURL]): its kind is
// an [Authorizer] and, when the kind is a [FlowChooser], says so for a.
func HasAuthorizationFlow(a *spec.Auth) bool {
	if a == nil {
		return false
	}
	k, _ := lookupKind(a.Type)
	if _, ok := k.(Authorizer); !ok {
		return false
	}
	if c, ok := k.(FlowChooser); ok {
		return c.HasAuthorizationFlow(a)
	}
	return true
}

// runConfigMethod runs the connection's config method name (a kind's
// getJwtBearerConfig, getGitHubAppConfig) with the connector parameters and
// connection input, and returns its object result with the method and the
// redactor its errors go through.
func (cl *Client) runConfigMethod(ctx context.Context, name string) (map[string]any, *Method, *redactor, error) {
	return cl.eng.runConfigMethod(ctx, cl.connector.Spec.Key, cl.auth, cl.conn, name)
}

// runConfigMethod is Client.runConfigMethod for an auth block and a
// connection with no client yet (an authorization flow's).
func (e *Engine) runConfigMethod(ctx context.Context, connector string, a *Auth, conn Connection, name string) (map[string]any, *Method, *redactor, error) {
	m := a.Methods[name]
	if m == nil {
		return nil, nil, nil, fmt.Errorf("connector %s: auth type %s has no %s", connector, a.Spec.Type, name)
	}
	r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters)
	out, err := e.runMethod(ctx, m, map[string]any{
		"connectorParameters":  orEmpty(conn.ConnectorParameters),
		"connectionInput":      orEmpty(conn.ConnectionParameters),
		"connectionParameters": orEmpty(conn.ConnectionParameters),
	}, nil, r)
	if err != nil {
		return nil, nil, nil, err
	}
	raw, ok := out.(map[string]any)
	if !ok {
		return nil, nil, nil, methodError(m, fmt.Errorf("must return an object, not %s", describeValue(out)))
	}
	return raw, m, r, nil
}
