package engine

import (
	"context"
	"net/url"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/spec"
)

func init() { RegisterKind("oauth2", oauth2Kind{}) }

// oauth2Kind is OAuth 2.0: its clients' sessions, and the authorization
// code flow.
type oauth2Kind struct{}

func (oauth2Kind) Open(ctx context.Context, cl *Client) (Session, error) { return openOAuth2(ctx, cl) }

// AuthorizationURL starts the authorization code flow.
func (oauth2Kind) AuthorizationURL(ctx context.Context, e *Engine, a *Auth, conn Connection, redirectURI string) (AuthorizationRequest, error) {
	return e.authorizationURL2(ctx, a, conn, redirectURI)
}

// CompleteAuthorization exchanges the callback's code.
func (oauth2Kind) CompleteAuthorization(ctx context.Context, e *Engine, a *Auth, conn Connection, callback url.Values, redirectURI, state, verifier string) (map[string]any, error) {
	return e.completeAuthorization2(ctx, a, conn, callback, redirectURI, state, verifier)
}

// oauth2Session is an OAuth 2.0 connection: credentials from the
// authorization code flow (or the client credentials grant, fetched on
// first use), renewed with the refresh token or the grant again.
type oauth2Session struct {
	BaseSession
	cfg oauth2.Config
}

// openOAuth2 evaluates the connection's getOAuthConfig.
func openOAuth2(ctx context.Context, cl *Client) (Session, error) {
	cfg, err := cl.eng.oauthConfig(ctx, cl.auth, cl.conn, "", "")
	if err != nil {
		return nil, err
	}
	return &oauth2Session{cfg: cfg}, nil
}

func (s *oauth2Session) clientCredentials() bool {
	return s.cfg.GrantType == oauth2.GrantClientCredentials
}

// Start: the client credentials grant's token is fetched on first use, like
// a refresh; other credentials come from the authorization flow (or the
// connector's getCredentialsFromConnectionParameters).
func (s *oauth2Session) Start(ctx context.Context, cl *Client) (map[string]any, bool, error) {
	if s.clientCredentials() {
		return map[string]any{}, false, nil
	}
	return cl.credentialsFromInput(ctx, false)
}

// CanRenew: the client credentials grant always; else with a refresh
// token, unless the connector says the API has none (the docs'
// noRefreshToken: none is sent even when a response carried one).
func (s *oauth2Session) CanRenew(creds map[string]any) bool {
	if s.clientCredentials() {
		return true
	}
	if s.cfg.NoRefreshToken {
		return false
	}
	rt, _ := creds["refresh_token"].(string)
	return rt != ""
}

// Renew requests a token: the client credentials grant again, or the
// refresh token grant.
func (s *oauth2Session) Renew(ctx context.Context, cl *Client, cur *clientState) (map[string]any, error) {
	cfg, hc := s.cfg, cl.tokenHTTPClient()
	var tok *oauth2.Token
	var err error
	method := spec.MethodGetCredentialsFromRefreshTokenResponse
	if s.clientCredentials() {
		tok, err = cfg.ClientCredentials(ctx, hc)
		method = spec.MethodGetCredentialsFromAccessTokenResponse
	} else {
		rt, _ := cur.credentials["refresh_token"].(string)
		tok, err = cfg.Refresh(ctx, hc, rt)
	}
	if err != nil {
		return nil, redactError(tokenError(err), cur.redact)
	}
	return cl.eng.credentialsFromToken(ctx, cl.auth, method, cl.conn, tok, cur.credentials, nil, cur.redact)
}

// Ready reports whether there is an access token to send.
func (s *oauth2Session) Ready(creds map[string]any) bool {
	at, _ := creds["access_token"].(string)
	return at != ""
}

// RefreshMargin is the connector's (ConfigFromMap's default is 60s).
func (s *oauth2Session) RefreshMargin() time.Duration { return s.cfg.RefreshMargin }
