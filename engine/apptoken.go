package engine

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// WithWorkspace sets the workspace key and signing secret for
// integration-app-token (membrane-token) connections: the engine mints a
// short-lived HS256 JWT per account and sends it with every request.
func WithWorkspace(key string, secret []byte) Option {
	return func(e *Engine) { e.workspaceKey, e.workspaceSecret = key, secret }
}

// WithAppTokenTTL sets the lifetime of minted tokens (default 5 minutes);
// they are reminted before they expire.
func WithAppTokenTTL(d time.Duration) Option { return func(e *Engine) { e.appTokenTTL = d } }

// Header names the minted token is sent in.
const (
	HeaderIntegrationAppToken = "X-Integration-App-Token"
	HeaderMembraneToken       = "X-Membrane-Token"
)

func init() { RegisterKind(appTokenType, KindFunc(openAppToken)) }

const appTokenType = "integration-app-token"

// appTokenSession is an integration-app-token (membrane-token) connection:
// a token minted per account from the engine's workspace secret, sent in a
// header, minted again when it is due.
type appTokenSession struct {
	BaseSession
	// membrane is set when the connector names the type membrane-token:
	// the token goes in that header as well.
	membrane bool
}

func openAppToken(_ context.Context, cl *Client) (Session, error) {
	return appTokenSession{membrane: cl.auth.Spec.TypeName == "membrane-token"}, nil
}

// Mint signs a token for the connection's account.
func (s appTokenSession) Mint(_ context.Context, cl *Client) (map[string]any, error) {
	return cl.mintAppToken()
}

// Apply sends the token.
func (s appTokenSession) Apply(req *http.Request, _ *Client, st *clientState) error {
	tok, _ := st.credentials["token"].(string)
	req.Header.Set(HeaderIntegrationAppToken, tok)
	if s.membrane {
		req.Header.Set(HeaderMembraneToken, tok)
	}
	return nil
}

// Errors of integration-app-token connections made without what the token
// is minted from; test them with errors.Is.
var (
	ErrNoWorkspace = errors.New("integration-app-token connections need engine.WithWorkspace(key, secret)")
	ErrNoAccount   = errors.New("integration-app-token connections need an account: the token is issued for it")
)

// NeedsWorkspace reports whether connections through the auth option
// ("" for the connector's only way to connect) mint integration-app-token
// (membrane-token) tokens, so the engine needs [WithWorkspace] and the
// connection an Account.
func (c *Connector) NeedsWorkspace(option string) bool {
	a, err := c.auth(option)
	return err == nil && a != nil && a.Spec != nil && a.Spec.Type == appTokenType
}

// mintAppToken signs a token for the connection's account. Nothing is
// stored for such connections: the token is minted again when it is due.
func (cl *Client) mintAppToken() (map[string]any, error) {
	e := cl.eng
	if len(e.workspaceSecret) == 0 || e.workspaceKey == "" {
		return nil, ErrNoWorkspace
	}
	if cl.conn.Account == nil || cl.conn.Account.ID == "" {
		return nil, ErrNoAccount
	}
	ttl := e.appTokenTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	now := e.now()
	exp := now.Add(ttl)
	fields := cl.conn.Account.Metadata
	if fields == nil {
		fields = map[string]any{}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss":    e.workspaceKey,
		"sub":    cl.conn.Account.ID,
		"fields": fields,
		"iat":    now.Unix(),
		"exp":    exp.Unix(),
	}).SignedString(e.workspaceSecret)
	if err != nil {
		return nil, err
	}
	return map[string]any{"token": tok, "expires_at": exp.UTC().Format(time.RFC3339)}, nil
}
