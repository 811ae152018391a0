package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"

	"github.com/connspec/connspec/engine/oauth1"
	"github.com/connspec/connspec/spec"
)

// OAuth 1.0a connections keep their token credentials as oauth_token and
// oauth_token_secret (plus whatever else the token response carried, such
// as user_id), and every request through the client is signed.

// oauth1Config evaluates getOAuthConfig for an oauth1 connection.
func (e *Engine) oauth1Config(ctx context.Context, a *Auth, conn Connection, redirectURI string) (oauth1.Config, error) {
	raw, m, r, err := e.oauthConfigMap(ctx, a, conn, redirectURI, "")
	if err != nil {
		return oauth1.Config{}, err
	}
	cfg, err := oauth1.ConfigFromMap(raw)
	if err != nil {
		return oauth1.Config{}, redactedMethodError(m, err, r)
	}
	cfg.Now = e.now
	return cfg, nil
}

// authorizationURL1 starts a three-legged OAuth 1.0a flow: it obtains
// temporary credentials; State carries the temporary token and Verifier its
// secret, both to keep until the callback.
func (e *Engine) authorizationURL1(ctx context.Context, a *Auth, conn Connection, redirectURI string) (AuthorizationRequest, error) {
	cfg, err := e.oauth1Config(ctx, a, conn, redirectURI)
	if err != nil {
		return AuthorizationRequest{}, err
	}
	temp, err := cfg.RequestToken(ctx, e.tokenHTTPClient(ctx), redirectURI)
	if err != nil {
		return AuthorizationRequest{}, redactError(err, a.redactor(conn.ConnectionParameters, conn.ConnectorParameters))
	}
	u, err := cfg.AuthorizationURL(temp)
	if err != nil {
		return AuthorizationRequest{}, err
	}
	return AuthorizationRequest{URL: u, State: temp.Token, Verifier: temp.Secret}, nil
}

// completeAuthorization1 exchanges the temporary credentials and the
// callback's oauth_verifier for token credentials.
func (e *Engine) completeAuthorization1(ctx context.Context, a *Auth, conn Connection, callback url.Values, redirectURI, tempToken, tempSecret string) (map[string]any, error) {
	cfg, err := e.oauth1Config(ctx, a, conn, redirectURI)
	if err != nil {
		return nil, err
	}
	temp := &oauth1.Token{Token: tempToken, Secret: tempSecret}
	// The oauth1 package scrubs what it sent; the connection's own secrets
	// (the consumer secret among its parameters) are redacted here.
	r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters, tempSecret)
	verifier, err := oauth1.ParseCallback(callback, temp)
	if err != nil {
		var de *oauth1.DeniedError
		if errors.As(err, &de) {
			// Rebuilt, not wrapped: callers read Problem with errors.As.
			return nil, &oauth1.DeniedError{Problem: r.String(de.Problem)}
		}
		return nil, redactError(err, r)
	}
	tok, err := cfg.AccessToken(ctx, e.tokenHTTPClient(ctx), temp, verifier)
	if err != nil {
		return nil, redactError(err, r.With(verifier))
	}
	creds := map[string]any{}
	for k, v := range tok.Raw {
		creds[k] = v
	}
	creds["oauth_token"], creds["oauth_token_secret"] = tok.Token, tok.Secret
	if m := a.Methods[spec.MethodGetCredentialsFromAccessTokenResponse]; m != nil {
		out, err := e.runMethod(ctx, m, map[string]any{
			"tokenResponse":        maps.Clone(creds),
			"connectorParameters":  orEmpty(conn.ConnectorParameters),
			"connectionParameters": orEmpty(conn.ConnectionParameters),
			"queryParameters":      queryMap(callback),
			"request":              map[string]any{"query": queryMap(callback)},
		}, nil, newRedactor(creds, conn.ConnectorParameters))
		if err != nil {
			return nil, err
		}
		if mapped, ok := out.(map[string]any); ok {
			maps.Copy(creds, mapped)
		}
	}
	if conn.ID != "" {
		if err := e.overwrite(ctx, conn, creds); err != nil {
			return nil, err
		}
	}
	return creds, nil
}

func queryMap(q url.Values) map[string]any {
	out := map[string]any{}
	for k, vs := range q {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}

func init() { RegisterKind("oauth1", oauth1Kind{}) }

// oauth1Kind is OAuth 1.0a: its clients' sessions, and the three-legged
// flow.
type oauth1Kind struct{}

func (oauth1Kind) Open(ctx context.Context, cl *Client) (Session, error) { return openOAuth1(ctx, cl) }

// AuthorizationURL obtains temporary credentials and the authorize URL.
func (oauth1Kind) AuthorizationURL(ctx context.Context, e *Engine, a *Auth, conn Connection, redirectURI string) (AuthorizationRequest, error) {
	return e.authorizationURL1(ctx, a, conn, redirectURI)
}

// CompleteAuthorization exchanges the temporary credentials and verifier.
func (oauth1Kind) CompleteAuthorization(ctx context.Context, e *Engine, a *Auth, conn Connection, callback url.Values, redirectURI, state, verifier string) (map[string]any, error) {
	return e.completeAuthorization1(ctx, a, conn, callback, redirectURI, state, verifier)
}

// oauth1Session is an OAuth 1.0a connection: token credentials from the
// three-legged flow or typed by the user (getCredentialsFromConnectionParameters),
// never renewed by the protocol, and every request signed.
type oauth1Session struct {
	BaseSession
	cfg oauth1.Config
}

// openOAuth1 evaluates the connection's getOAuthConfig.
func openOAuth1(ctx context.Context, cl *Client) (Session, error) {
	cfg, err := cl.eng.oauth1Config(ctx, cl.auth, cl.conn, "")
	if err != nil {
		return nil, err
	}
	return &oauth1Session{cfg: cfg}, nil
}

// Start: the credentials come from the authorization flow, or the
// connector's getCredentialsFromConnectionParameters.
func (s *oauth1Session) Start(ctx context.Context, cl *Client) (map[string]any, bool, error) {
	return cl.credentialsFromInput(ctx, false)
}

// Apply signs an outgoing request with the token credentials (none for
// two-legged, consumer-only access).
func (s *oauth1Session) Apply(req *http.Request, _ *Client, st *clientState) error {
	var tok *oauth1.Token
	if t, _ := st.credentials["oauth_token"].(string); t != "" {
		secret, _ := st.credentials["oauth_token_secret"].(string)
		tok = &oauth1.Token{Token: t, Secret: secret}
	}
	if err := s.cfg.Sign(req, tok, nil); err != nil {
		return redactError(fmt.Errorf("signing the request: %w", err), st.redact)
	}
	return nil
}
