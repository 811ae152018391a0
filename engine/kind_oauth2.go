package engine

import (
	"context"
	"net/http"
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
	// dpop is set when getOAuthConfig asks for DPoP (layer_dpop.go).
	dpop *dpopLayer
	// reg is set when the client is dynamically registered
	// (registration.go).
	reg *sessionRegistration
}

// openOAuth2 evaluates the connection's getOAuthConfig.
func openOAuth2(ctx context.Context, cl *Client) (Session, error) {
	cfg, reg, err := openOAuthConfig(ctx, cl)
	if err != nil {
		return nil, err
	}
	d, err := newDPoPLayer(cfg, cl.auth)
	if err != nil {
		return nil, err
	}
	return &oauth2Session{cfg: cfg, dpop: d, reg: newSessionRegistration(reg)}, nil
}

// clientCredentials reports whether the session's token comes from a grant
// that needs no user: client_credentials, or the token exchange grant (RFC
// 8693), whose subject token the connector maps. Both fetch on first use
// and renew by running the grant again.
func (s *oauth2Session) clientCredentials() bool {
	return s.cfg.GrantType == oauth2.GrantClientCredentials || s.cfg.GrantType == oauth2.GrantTokenExchange
}

// Start: the client credentials grant's token is fetched on first use, like
// a refresh; other credentials come from the authorization flow (or the
// connector's getCredentialsFromConnectionParameters).
func (s *oauth2Session) Start(ctx context.Context, cl *Client) (map[string]any, bool, error) {
	if s.clientCredentials() {
		if s.dpop != nil {
			// The key is made once and stored before the first token
			// request, so that every client of the connection uses it.
			_, jwk, err := newDPoPKey(s.dpop.alg)
			if err != nil {
				return nil, false, err
			}
			return map[string]any{DPoPCredentialsKey: jwk}, true, nil
		}
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
	if s.dpop != nil {
		key, err := dpopKeyOf(cur.credentials)
		if err != nil {
			return nil, err
		}
		hc = s.dpop.tokenClient(key, cl.wire)
	}
	redact := cur.redact
	if s.reg != nil {
		var err error
		if cfg, redact, err = s.reg.client(ctx, cl, cfg, cur); err != nil {
			return nil, err
		}
	}
	var tok *oauth2.Token
	var err error
	var x oauth2.TokenExchange
	method := spec.MethodGetCredentialsFromRefreshTokenResponse
	if s.cfg.GrantType == oauth2.GrantTokenExchange {
		// The subject token is mapped anew from the current credentials
		// (tokenexchange.go).
		tok, x, redact, err = s.exchangeToken(ctx, cl, cfg, hc, cur, redact)
		method = spec.MethodGetCredentialsFromAccessTokenResponse
	} else if s.clientCredentials() {
		tok, err = cfg.ClientCredentials(ctx, hc)
		if err != nil && s.reg != nil && invalidClient(err) {
			// The server forgot the registered client: register anew
			// (or read it, RFC 7592) and try once more.
			if cfg, redact, err = s.reg.renew(ctx, cl, cfg, cur); err == nil {
				tok, err = cfg.ClientCredentials(ctx, hc)
			}
		}
		method = spec.MethodGetCredentialsFromAccessTokenResponse
	} else {
		rt, _ := cur.credentials["refresh_token"].(string)
		tok, err = cfg.Refresh(ctx, hc, rt)
		if err != nil && s.reg != nil && invalidClient(err) {
			return nil, redactError(s.reg.refused(ctx, cl, cur, err), redact)
		}
	}
	if err != nil {
		return nil, redactError(tokenError(err), redact)
	}
	if s.dpop != nil {
		if err := checkDPoPToken(tok); err != nil {
			return nil, err
		}
	}
	creds, err := cl.eng.credentialsFromToken(ctx, cl.auth, method, cl.conn, tok, cur.credentials, nil, redact)
	if err == nil && s.dpop != nil {
		keepDPoPKey(creds, cur.credentials)
	}
	if err == nil && s.reg != nil {
		s.reg.keep(creds, cur.credentials)
	}
	if err == nil && s.cfg.GrantType == oauth2.GrantTokenExchange {
		keepExchangeTokens(creds, cur.credentials, x)
	}
	return creds, err
}

// Wire sends a DPoP connection's API requests with proofs.
func (s *oauth2Session) Wire(base http.RoundTripper, creds map[string]any) (http.RoundTripper, []string, error) {
	if s.dpop == nil {
		return nil, nil, nil
	}
	return s.dpop.wire(base, creds)
}

// Ready reports whether there is an access token to send.
func (s *oauth2Session) Ready(creds map[string]any) bool {
	at, _ := creds["access_token"].(string)
	return at != ""
}

// RefreshMargin is the connector's (ConfigFromMap's default is 60s).
func (s *oauth2Session) RefreshMargin() time.Duration { return s.cfg.RefreshMargin }
