package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/spec"
)

// AuthorizationRequest is the first step of an OAuth 2.0 authorization code
// flow: send the user to URL, and keep State and Verifier (secret) for
// CompleteAuthorization.
type AuthorizationRequest struct {
	URL      string
	State    string
	Verifier string
}

// oauthConfigMap evaluates getOAuthConfig for a connection (OAuth 2.0 or
// 1.0a), returning its result and the method for error reports.
func (e *Engine) oauthConfigMap(ctx context.Context, a *Auth, conn Connection, redirectURI, state string) (map[string]any, *Method, *redactor, error) {
	m := a.Methods[spec.MethodGetOAuthConfig]
	if m == nil {
		return nil, nil, nil, fmt.Errorf("auth option has no getOAuthConfig")
	}
	// Connection input may hold secrets too: an OAuth app's client secret
	// typed by the user, for one.
	// conn.Credentials are the connection's current credentials where the
	// caller knows them (the token exchange grant's subject token: see
	// tokenexchange.go); every string in them is a secret.
	r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters, conn.Credentials)
	out, err := e.runMethod(ctx, m, map[string]any{
		"credentials":          orEmpty(conn.Credentials),
		"connectorParameters":  orEmpty(conn.ConnectorParameters),
		"connectionInput":      orEmpty(conn.ConnectionParameters),
		"connectionParameters": orEmpty(conn.ConnectionParameters),
		"redirectUri":          redirectURI,
		"state":                state,
	}, nil, r)
	if err != nil {
		return nil, nil, nil, err
	}
	raw, ok := out.(map[string]any)
	if !ok {
		return nil, nil, nil, methodError(m, fmt.Errorf("must return an object, not %s", describeValue(out)))
	}
	// The endpoints receive the client secret, the authorization code and
	// refresh tokens, and the authorize URL the client id: one host policy.
	input := inputValues(conn.ConnectionParameters)
	for _, field := range urlFields(raw) {
		s := raw[field].(string)
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			continue // not a URL to send anything to; the config reader says what is wrong
		}
		if _, err := a.hosts.checkURL(field, s, input, nil); err != nil {
			return nil, nil, nil, redactedMethodError(m, err, r)
		}
	}
	return raw, m, r, nil
}

// oauthConfig evaluates getOAuthConfig for an OAuth 2.0 connection.
func (e *Engine) oauthConfig(ctx context.Context, a *Auth, conn Connection, redirectURI, state string) (oauth2.Config, error) {
	cfg, reg, err := e.oauthConfigReg(ctx, a, conn, redirectURI, state)
	if err == nil && reg.fromCredentials() {
		return oauth2.Config{}, errNoRegistrationFlow
	}
	return cfg, err
}

// oauthConfigReg is oauthConfig, with the registered client it uses
// (registration.go).
func (e *Engine) oauthConfigReg(ctx context.Context, a *Auth, conn Connection, redirectURI, state string) (oauth2.Config, registrationUse, error) {
	raw, m, r, err := e.oauthConfigMap(ctx, a, conn, redirectURI, state)
	if err != nil {
		return oauth2.Config{}, registrationUse{}, err
	}
	ctx, err = e.applyProtectedResource(ctx, a, raw, inputValues(conn.ConnectionParameters))
	if err != nil {
		return oauth2.Config{}, registrationUse{}, redactedMethodError(m, err, r)
	}
	if err := e.applyDiscovery(ctx, a, raw, inputValues(conn.ConnectionParameters), redirectURI); err != nil {
		return oauth2.Config{}, registrationUse{}, redactedMethodError(m, err, r)
	}
	reg, _ := raw[registrationRawKey].(registrationUse)
	delete(raw, registrationRawKey)
	cfg, err := configFromMap(ctx, raw)
	if err != nil {
		return oauth2.Config{}, reg, redactedMethodError(m, err, r)
	}
	cfg.Now = func() time.Time { return e.now() } // expiry is computed on the engine's clock, read when used
	if oauth2.IsTLSClientAuth(cfg.ClientAuthLocation) {
		if err := checkClientCertificate(e.wireOf(ctx), cfg.ClientAuthLocation); err != nil {
			return oauth2.Config{}, reg, redactedMethodError(m, err, r)
		}
	}
	return cfg, reg, nil
}

// Authorizer is a Kind whose credentials come from an interactive flow:
// the user is sent to the provider, whose callback completes it.
type Authorizer interface {
	Kind
	// AuthorizationURL starts the flow for conn.
	AuthorizationURL(ctx context.Context, e *Engine, a *Auth, conn Connection, redirectURI string) (AuthorizationRequest, error)
	// CompleteAuthorization finishes it with the callback's query and
	// returns the credentials, stored when conn has an ID.
	CompleteAuthorization(ctx context.Context, e *Engine, a *Auth, conn Connection, callback url.Values, redirectURI, state, verifier string) (map[string]any, error)
}

// oauthAuth returns the auth block of a connection and its kind's
// authorization flow, and conn with the schemas' defaults filled in.
func (e *Engine) oauthAuth(conn Connection) (Connection, *Auth, Authorizer, error) {
	if err := checkConnectionID(conn.ID); err != nil {
		return conn, nil, nil, err
	}
	c, ok := e.Connector(conn.Connector)
	if !ok {
		return conn, nil, nil, fmt.Errorf("no connector %q is registered", conn.Connector)
	}
	a, err := c.auth(conn.Option)
	if err != nil {
		return conn, nil, nil, err
	}
	k, _ := lookupKind(a.Spec.Type)
	flow, ok := k.(Authorizer)
	if !ok || !HasAuthorizationFlow(a.Spec) {
		return conn, nil, nil, fmt.Errorf("connector %s (option %q) is %s, which has no authorization flow", c.Spec.Key, conn.Option, a.Spec.Type)
	}
	conn = withSchemaDefaults(c, a, conn)
	if err := a.checkEnabled(c.Spec.Key, conn.Option, conn.ConnectorParameters); err != nil {
		return conn, nil, nil, err
	}
	if err := validateInput(c, a, conn.ConnectionParameters); err != nil {
		return conn, nil, nil, err
	}
	return conn, a, flow, nil
}

// AuthorizationURL starts an authorization code flow for conn: it returns
// the provider URL to send the user to, with a fresh state and (unless the
// connector skips PKCE) a PKCE S256 verifier to keep until the callback.
// For OAuth 1.0a it first obtains temporary credentials: State is then the
// temporary token and Verifier its secret.
func (e *Engine) AuthorizationURL(ctx context.Context, conn Connection, redirectURI string) (AuthorizationRequest, error) {
	conn, a, flow, err := e.oauthAuth(conn)
	if err != nil {
		return AuthorizationRequest{}, err
	}
	if ctx, err = e.flowContext(ctx, a, conn); err != nil {
		return AuthorizationRequest{}, err
	}
	return flow.AuthorizationURL(ctx, e, a, conn, redirectURI)
}

// authorizationURL2 starts an OAuth 2.0 authorization code flow.
func (e *Engine) authorizationURL2(ctx context.Context, a *Auth, conn Connection, redirectURI string) (AuthorizationRequest, error) {
	state, err := oauth2.NewState()
	if err != nil {
		return AuthorizationRequest{}, err
	}
	cfg, err := e.oauthConfig(ctx, a, conn, redirectURI, state)
	if err != nil {
		return AuthorizationRequest{}, err
	}
	var verifier string
	if !cfg.SkipPKCE {
		if verifier, err = oauth2.NewVerifier(); err != nil {
			return AuthorizationRequest{}, err
		}
	}
	u, err := cfg.AuthorizationURL(redirectURI, state, verifier)
	if err != nil {
		return AuthorizationRequest{}, err
	}
	return AuthorizationRequest{URL: u, State: state, Verifier: verifier}, nil
}

// CompleteAuthorization finishes the flow with the callback's query: it
// checks state, exchanges the code (or runs getTokenData), maps the token
// response to credentials (getCredentialsFromAccessTokenResponse) and, when
// conn has an ID, stores them. A provider error in the callback is an
// *oauth2.CallbackError.
func (e *Engine) CompleteAuthorization(ctx context.Context, conn Connection, callback url.Values, redirectURI, state, verifier string) (map[string]any, error) {
	conn, a, flow, err := e.oauthAuth(conn)
	if err != nil {
		return nil, err
	}
	if ctx, err = e.flowContext(ctx, a, conn); err != nil {
		return nil, err
	}
	return flow.CompleteAuthorization(ctx, e, a, conn, callback, redirectURI, state, verifier)
}

// completeAuthorization2 finishes an OAuth 2.0 authorization code flow.
func (e *Engine) completeAuthorization2(ctx context.Context, a *Auth, conn Connection, callback url.Values, redirectURI, state, verifier string) (map[string]any, error) {
	// Everything secret the flow knows: what a failure below quotes (the
	// provider's error_description, a token endpoint echoing the request,
	// a method's exception) is redacted with it.
	r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters, verifier)
	code, err := oauth2.ParseCallback(callback, state)
	if err != nil {
		return nil, redactCallbackError(err, r)
	}
	r = r.With(code)
	cfg, reg, err := e.oauthConfigReg(ctx, a, conn, redirectURI, state)
	if err != nil {
		return nil, err
	}
	if reg.c != nil {
		r = r.With(reg.c.secrets()...)
	}
	query := map[string]any{}
	for k, vs := range callback {
		if len(vs) > 0 {
			query[k] = vs[0]
		}
	}
	var tok *oauth2.Token
	hc, dpopKey, err := e.exchangeClient(ctx, cfg, a)
	if err != nil {
		return nil, err
	}
	if m := a.Methods[spec.MethodGetTokenData]; m != nil {
		out, err := e.runMethod(ctx, m, map[string]any{
			"connectorParameters":  orEmpty(conn.ConnectorParameters),
			"connectionParameters": orEmpty(conn.ConnectionParameters),
			"connectionInput":      orEmpty(conn.ConnectionParameters),
			"codeVerifier":         verifier,
			"queryParameters":      query,
			"redirectUri":          redirectURI,
		}, nil, r)
		if err != nil {
			return nil, err
		}
		raw, ok := out.(map[string]any)
		if !ok {
			return nil, methodError(m, fmt.Errorf("must return the token response object, not %s", describeValue(out)))
		}
		tok = tokenFromMap(raw, e.now(), cfg.DefaultExpiresIn)
	} else if tok, err = cfg.Exchange(ctx, hc, code, redirectURI, verifier); err != nil {
		return nil, redactError(e.registeredClientRefused(ctx, a, reg, err), r)
	}
	return e.storeFlowToken(withBoundResource(ctx, cfg.Resource), a, conn, tok, dpopKey, reg.c, map[string]any{
		"queryParameters": query,
		"request":         map[string]any{"query": query},
	}, r)
}

// storeFlowToken ends an authorization flow (code or device): it checks a
// DPoP-bound token, maps the token response to credentials with extra
// variables, and stores them when conn has an ID.
func (e *Engine) storeFlowToken(ctx context.Context, a *Auth, conn Connection, tok *oauth2.Token, dpopKey string, reg *clientRegistration, extra map[string]any, r *redactor) (map[string]any, error) {
	if dpopKey != "" {
		if err := checkDPoPToken(tok); err != nil {
			return nil, err
		}
	}
	creds, err := e.credentialsFromToken(ctx, a, spec.MethodGetCredentialsFromAccessTokenResponse, conn, tok, nil, extra, r)
	if err != nil {
		return nil, err
	}
	bindResource(ctx, creds, nil)
	if dpopKey != "" {
		creds[DPoPCredentialsKey] = dpopKey
	}
	if reg != nil {
		creds[RegistrationCredentialsKey] = registrationRef(reg)
	} else {
		delete(creds, RegistrationCredentialsKey)
	}
	if conn.ID != "" {
		if err := e.overwrite(ctx, conn, creds); err != nil {
			return nil, err
		}
	}
	return creds, nil
}

// exchangeClient sends the code exchange: with a DPoP proof signed by a new
// key when cfg asks for DPoP (its store form is returned, for the
// credentials), else plainly.
func (e *Engine) exchangeClient(ctx context.Context, cfg oauth2.Config, a *Auth) (*http.Client, string, error) {
	d, err := newDPoPLayer(cfg, a)
	if err != nil || d == nil {
		return e.tokenHTTPClient(ctx), "", err
	}
	key, jwk, err := newDPoPKey(d.alg)
	if err != nil {
		return nil, "", err
	}
	return d.tokenClient(key, e.wireOf(ctx).rt), jwk, nil
}

// credentialsFromToken turns a token response into credentials: the
// connector's mapping when it has one, else the response itself; either way
// access_token, refresh_token (kept from old when the response has none),
// token_type and expires_at are filled in for the engine's own refresh.
// r knows the caller's secrets (the authorization code, the current
// credentials); the mapping's errors and logs are redacted with them too.
func (e *Engine) credentialsFromToken(ctx context.Context, a *Auth, method string, conn Connection, tok *oauth2.Token, old map[string]any, extra map[string]any, r *redactor) (map[string]any, error) {
	var creds map[string]any
	if m := a.Methods[method]; m != nil {
		vars := map[string]any{
			"tokenResponse":        tok.Raw,
			"connectorParameters":  orEmpty(conn.ConnectorParameters),
			"connectionParameters": orEmpty(conn.ConnectionParameters),
			"connectionInput":      orEmpty(conn.ConnectionParameters),
			"credentials":          orEmpty(old),
		}
		maps.Copy(vars, extra)
		out, err := e.runMethod(ctx, m, vars, nil, r.With(stringLeaves(tok.Raw, old, conn.ConnectorParameters)...))
		if err != nil {
			return nil, err
		}
		if creds, _ = out.(map[string]any); creds == nil {
			return nil, methodError(m, fmt.Errorf("must return an object of credentials, not %s", describeValue(out)))
		}
		if old != nil {
			merged := maps.Clone(old)
			maps.Copy(merged, creds)
			creds = merged
		}
	} else {
		creds = maps.Clone(old)
		if creds == nil {
			creds = map[string]any{}
		}
		maps.Copy(creds, tok.Raw)
	}
	creds["access_token"] = tok.AccessToken
	if tok.RefreshToken != "" {
		creds["refresh_token"] = tok.RefreshToken
	} else if rt, ok := old["refresh_token"]; ok {
		// A refresh response without refresh_token keeps the old one.
		creds["refresh_token"] = rt
	}
	if tok.TokenType != "" {
		creds["token_type"] = tok.TokenType
	}
	bindResource(context.Background(), creds, old)
	delete(creds, "expires_at")
	if !tok.ExpiresAt.IsZero() {
		creds["expires_at"] = formatExpiresAt(tok.ExpiresAt)
	}
	switch {
	case !tok.RefreshTokenExpiresAt.IsZero():
		creds[RefreshTokenExpiresKey] = formatExpiresAt(tok.RefreshTokenExpiresAt)
	case tok.RefreshToken != "" && tok.RefreshToken != old["refresh_token"]:
		// A new refresh token whose lapse the provider did not tell: the
		// old one's does not apply to it.
		delete(creds, RefreshTokenExpiresKey)
	}
	return creds, nil
}

// redactCallbackError hides secrets in what a provider's callback said
// (error, error_description, error_uri). The text comes from the browser's
// query, so a hostile or echoing provider may put anything there; callers
// read the fields with errors.As, so the error is rebuilt, not wrapped.
func redactCallbackError(err error, r *redactor) error {
	var ce *oauth2.CallbackError
	if !errors.As(err, &ce) {
		return redactError(err, r)
	}
	return &oauth2.CallbackError{Code: r.String(ce.Code), Description: r.String(ce.Description), URI: r.String(ce.URI)}
}

// tokenFromMap reads a token response given as an object (getTokenData).
func tokenFromMap(raw map[string]any, now time.Time, defaultExpiresIn time.Duration) *oauth2.Token {
	tok := &oauth2.Token{Raw: raw}
	tok.AccessToken, _ = raw["access_token"].(string)
	tok.RefreshToken, _ = raw["refresh_token"].(string)
	tok.TokenType, _ = raw["token_type"].(string)
	tok.RefreshTokenExpiresAt = oauth2.RefreshTokenExpiry(raw, now)
	if exp := expiryOf(raw, now); !exp.IsZero() {
		tok.ExpiresAt = exp
	} else if defaultExpiresIn > 0 {
		tok.ExpiresAt = now.Add(defaultExpiresIn)
	}
	return tok
}

// expiryOf reads expires_at (RFC 3339 or unix seconds) or expires_in.
func expiryOf(m map[string]any, now time.Time) time.Time {
	if t := parseExpiresAt(m["expires_at"]); !t.IsZero() {
		return t
	}
	switch v := m["expires_in"].(type) {
	case string:
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return now.Add(time.Duration(n) * time.Second)
		}
	case int64:
		return now.Add(time.Duration(v) * time.Second)
	case float64:
		return now.Add(time.Duration(v) * time.Second)
	}
	return time.Time{}
}

// formatExpiresAt writes expires_at as RFC 3339 with milliseconds: cut to
// whole seconds, a token that lives a second or two would look expired up to
// a second early and be renewed again and again.
func formatExpiresAt(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

// parseExpiresAt reads a stored expires_at: RFC 3339 or unix seconds.
// Stored credentials carry no expires_in: it is relative to a time unknown.
func parseExpiresAt(v any) time.Time {
	switch v := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Unix(int64(n), 0)
		}
	case int64:
		return time.Unix(v, 0)
	case float64:
		return time.Unix(int64(v), 0)
	}
	return time.Time{}
}

// tokenError maps token endpoint failures onto connection errors:
// invalid_grant means the user must authorise again.
func tokenError(err error) error {
	var ce *ConnectionError
	if errors.As(err, &ce) {
		return err // said already (a token exchange's refused subject token)
	}
	if errors.Is(err, oauth2.ErrInvalidGrant) {
		return &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the provider rejected the refresh token or code (invalid_grant): authorise the connection again", Err: err}
	}
	return err
}

// transientTokenError reports a failure worth retrying later.
func transientTokenError(err error) bool {
	var te *oauth2.TokenError
	return errors.As(err, &te) && te.Transient
}
