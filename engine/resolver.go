package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/connspec/connspec/spec"
)

// Integration is a named instance of a connector: two integrations of one
// connector (say "byo-slack", resolving each account's own token, and
// "our-slack", with the application's credentials) are independent.
// Everything that takes a connector key also takes an integration ID.
type Integration struct {
	ID        string
	Connector string
	// Option is the auth option connections of the integration use by default.
	Option string
	// ConnectorParameters are used by connections that bring none.
	ConnectorParameters map[string]any
}

// IntegrationOption configures an integration.
type IntegrationOption func(*Integration)

// WithIntegrationParameters sets the integration's connector parameters.
func WithIntegrationParameters(p map[string]any) IntegrationOption {
	return func(i *Integration) { i.ConnectorParameters = p }
}

// WithIntegrationAuthOption sets the integration's default auth option.
func WithIntegrationAuthOption(option string) IntegrationOption {
	return func(i *Integration) { i.Option = option }
}

// Integration registers an integration id of the connector with key.
func (e *Engine) Integration(id, connector string, opts ...IntegrationOption) error {
	if _, ok := e.Connector(connector); !ok {
		return fmt.Errorf("integration %s: no connector %q is registered", id, connector)
	}
	in := &Integration{ID: id, Connector: connector}
	for _, o := range opts {
		o(in)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, clash := e.connectors[id]; clash && id != connector {
		return fmt.Errorf("integration %s: a connector has that key", id)
	}
	e.integrations[id] = in
	return nil
}

// RunContext is what an auth resolver is called for.
type RunContext struct {
	// Account is the end user the call is made for (nil when the
	// connection names none).
	Account *Account
	// ForceRefresh is set when the API rejected the last result (HTTP 401):
	// the resolver must not return a cached token.
	ForceRefresh bool
}

// IntegrationInfo tells a resolver which integration it resolves for, so
// one resolver can serve several.
type IntegrationInfo struct {
	// ID is the integration ID (the connector key for a bare connector).
	ID        string
	Connector string
}

// AuthResult is what a resolver returns: a token the engine maps into the
// connector's credentials.
type AuthResult struct {
	// Type is "oauth" (Token becomes access_token), "apiKey" (Token goes
	// into the connector's API-key field) or "subjectToken" (a connspec
	// extension: Token is the subject token of a token exchange connector,
	// put in the credentials as subject_token and exchanged; the exchanged
	// token is cached per account until it is due for renewal, and when the
	// token endpoint refuses the exchange the resolver is asked once more
	// with ForceRefresh).
	Type  string
	Token string
	// AdditionalFields are merged into the credentials (e.g. a Shopify shop
	// that the base URI is built from).
	AdditionalFields map[string]string
	// RefreshToken and ExpiresAt (connspec extensions) are stored with an
	// oauth token.
	RefreshToken string
	ExpiresAt    time.Time
	// TTL is how long the result may be reused for the same account. Zero:
	// until ExpiresAt, or not at all. A subjectToken result is reused until
	// its exchanged token is due for renewal (else for TTL).
	TTL time.Duration
}

// AuthResolver supplies credentials the embedding application owns, per
// account ("bring your own auth").
type AuthResolver func(ctx context.Context, run RunContext, in IntegrationInfo) (*AuthResult, error)

// ErrUnresolvedAuth is matched by every failure to resolve credentials.
var ErrUnresolvedAuth = errors.New("auth could not be resolved")

// UnresolvedAuthError says why a resolver gave no credentials.
type UnresolvedAuthError struct {
	Integration string
	// Err is the resolver's error; nil when it returned no result.
	Err error
}

func (e *UnresolvedAuthError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("auth could not be resolved for %s: resolver returned no credentials", e.Integration)
	}
	return fmt.Sprintf("auth could not be resolved for %s: resolver failed: %v", e.Integration, e.Err)
}

// Is matches ErrUnresolvedAuth.
func (e *UnresolvedAuthError) Is(target error) bool { return target == ErrUnresolvedAuth }

// Unwrap returns the resolver's error.
func (e *UnresolvedAuthError) Unwrap() error { return e.Err }

// DefineAuthResolver makes connections of an integration (or of every
// integration of a connector, by its key) take their credentials from r.
// A resolver for an integration ID wins over one for its connector key.
func (e *Engine) DefineAuthResolver(integrationOrConnector string, r AuthResolver) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resolvers[integrationOrConnector] = r
}

// target finds the integration and connector a connection names.
func (e *Engine) target(name string) (IntegrationInfo, *Integration, *Connector, AuthResolver, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	in := e.integrations[name]
	key := name
	if in != nil {
		key = in.Connector
	}
	c, ok := e.connectors[key]
	if !ok {
		return IntegrationInfo{}, nil, nil, nil, fmt.Errorf("no connector or integration %q is registered", name)
	}
	r := e.resolvers[name]
	if r == nil && in != nil {
		r = e.resolvers[key]
	}
	return IntegrationInfo{ID: name, Connector: key}, in, c, r, nil
}

type resolved struct {
	credentials map[string]any
	until       time.Time
}

// resolve calls the connection's resolver, through the per-account cache
// unless force is set; concurrent calls for one account share one call.
// known redacts the resolver's errors: when it is asked again after a 401,
// its error may well quote the token it gave before.
func (cl *Client) resolve(ctx context.Context, resolver AuthResolver, force bool, known *redactor) (map[string]any, time.Time, error) {
	e := cl.eng
	account := ""
	if cl.conn.Account != nil {
		account = cl.conn.Account.ID
	}
	key := cl.info.ID + "\x00" + account
	unlock := e.lock("resolver\x00" + key)
	defer unlock()
	if !force {
		if r, ok := e.resolverCache.Load(key); ok && e.now().Before(r.(resolved).until) {
			return maps.Clone(r.(resolved).credentials), r.(resolved).until, nil
		}
	}
	var res *AuthResult
	var creds map[string]any
	var err error
	for {
		res, creds, err = cl.resolveOnce(ctx, resolver, force, known)
		if force || res == nil || res.Type != "subjectToken" || !exchangeRefused(err) {
			break
		}
		// The token endpoint refused the subject token: the resolver's may
		// be stale; it is asked for a fresh one, once.
		force, known = true, known.With(res.Token)
	}
	if err != nil {
		e.resolverCache.Delete(key)
		return nil, time.Time{}, err
	}
	var until time.Time
	switch {
	case res.Type == "subjectToken" && !parseExpiresAt(creds["expires_at"]).IsZero():
		exp := parseExpiresAt(creds["expires_at"])
		until = exp.Add(-min(cl.refreshMargin(), max(exp.Sub(e.now())/2, 0)))
	case res.TTL > 0:
		until = e.now().Add(res.TTL)
	case !res.ExpiresAt.IsZero():
		until = res.ExpiresAt
	}
	if until.IsZero() {
		e.resolverCache.Delete(key)
	} else {
		e.resolverCache.Store(key, resolved{credentials: maps.Clone(creds), until: until})
	}
	return creds, until, nil
}

// resolveOnce calls the resolver and makes credentials of its result.
func (cl *Client) resolveOnce(ctx context.Context, resolver AuthResolver, force bool, known *redactor) (*AuthResult, map[string]any, error) {
	res, err := resolver(ctx, RunContext{Account: cl.conn.Account, ForceRefresh: force}, cl.info)
	if err != nil || res == nil {
		return nil, nil, &UnresolvedAuthError{Integration: cl.info.ID, Err: redactError(err, known)}
	}
	creds := map[string]any{}
	for k, v := range res.AdditionalFields {
		creds[k] = v
	}
	switch res.Type {
	case "oauth":
		creds["access_token"] = res.Token
		if res.RefreshToken != "" {
			creds["refresh_token"] = res.RefreshToken
		}
		if !res.ExpiresAt.IsZero() {
			creds["expires_at"] = formatExpiresAt(res.ExpiresAt)
		}
	case "apiKey":
		creds[cl.apiKeyField()] = res.Token
	case "subjectToken":
		creds[SubjectTokenCredentialsKey] = res.Token
		if creds, err = cl.exchangeResolved(ctx, creds, known); err != nil {
			return res, nil, &UnresolvedAuthError{Integration: cl.info.ID, Err: redactError(err, known.With(res.Token))}
		}
	default:
		// A type mixed up with the token must not show the token.
		r := newRedactor(res.Token, res.RefreshToken)
		return nil, nil, &UnresolvedAuthError{Integration: cl.info.ID, Err: fmt.Errorf("unknown result type %q (want oauth, apiKey or subjectToken)", r.String(res.Type))}
	}
	return res, creds, nil
}

// apiKeyField is where an apiKey result goes: the spec's apiKeyField, else
// the first required string property of the credentials, input or UI
// schema, else api_key.
func (cl *Client) apiKeyField() string {
	a := cl.auth.Spec
	if a.APIKeyField != "" {
		return a.APIKeyField
	}
	// The credentials schema, then the input schemas, the connector's own
	// when the auth block has none (integration.app exports put ui beside
	// auth).
	schemas := append([]*spec.JSONSchema{a.CredentialsSchema}, inputSchemas(cl.connector, cl.auth)...)
	for _, s := range schemas {
		if s == nil {
			continue
		}
		props, _ := s.Value["properties"].(map[string]any)
		req, _ := s.Value["required"].([]any)
		for _, r := range req {
			name, _ := r.(string)
			p, _ := props[name].(map[string]any)
			if t, _ := p["type"].(string); name != "" && t == "string" {
				return name
			}
		}
	}
	return "api_key"
}
