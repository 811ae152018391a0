package engine

import (
	"context"

	"github.com/connspec/connspec/spec"
)

// DeviceFlowOnly reports whether conn's auth block connects people only
// through the device authorization grant (RFC 8628): its kind is oauth2,
// and getOAuthConfig (after discovery, with conn's input) gives
// deviceAuthorizationUri and no authorizeUri. A connector that offers both
// is connected through the browser redirect where one is possible; whether
// a block is device-only cannot be told from the spec alone, since
// getOAuthConfig may depend on the connection's input. An error is
// getOAuthConfig's (free of secrets, like [Engine.AuthorizationURL]'s).
func (e *Engine) DeviceFlowOnly(ctx context.Context, conn Connection) (bool, error) {
	conn, a, _, err := e.oauthAuth(conn)
	if err != nil {
		return false, err
	}
	if a.Spec.Type != "oauth2" || a.Methods[spec.MethodGetTokenData] != nil {
		return false, nil
	}
	if ctx, err = e.flowContext(ctx, a, conn); err != nil {
		return false, err
	}
	cfg, err := e.oauthConfig(ctx, a, conn, "", "")
	if err != nil {
		return false, err
	}
	return cfg.DeviceAuthorizationURI != "" && cfg.AuthorizeURI == "", nil
}
