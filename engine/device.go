package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/spec"
)

// DeviceAuthorization is a started OAuth 2.0 device authorization grant
// (RFC 8628): show the user UserCode and VerificationURI (or the
// VerificationURIComplete link), then pass it to
// [Engine.CompleteDeviceAuthorization]. The device code it carries is
// secret and never shown, printed or serialised: the value only works in
// the process that started it.
type DeviceAuthorization struct {
	// UserCode is the code the user enters at VerificationURI.
	UserCode string
	// VerificationURI is the page where the user enters UserCode.
	VerificationURI string
	// VerificationURIComplete is VerificationURI with the code filled in,
	// "" when the provider sent none.
	VerificationURIComplete string
	// ExpiresAt is when the codes expire.
	ExpiresAt time.Time
	// Interval is the least time between polls of the token endpoint.
	Interval time.Duration

	// handle holds the device code; a pointer, so that fmt prints an
	// address, not the secret.
	handle *deviceHandle
}

type deviceHandle struct {
	code              string
	connector, option string
}

// StartDeviceAuthorization starts the device authorization grant for an
// OAuth 2.0 connection whose getOAuthConfig gives deviceAuthorizationUri
// (host-checked like tokenUri): it asks the provider for a device code and a
// user code.
func (e *Engine) StartDeviceAuthorization(ctx context.Context, conn Connection) (DeviceAuthorization, error) {
	conn, a, cfg, err := e.deviceConfig(ctx, &ctx, conn)
	if err != nil {
		return DeviceAuthorization{}, err
	}
	r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters)
	da, err := cfg.StartDeviceAuthorization(ctx, e.tokenHTTPClient(ctx))
	if err != nil {
		return DeviceAuthorization{}, redactError(err, r)
	}
	return DeviceAuthorization{
		UserCode:                da.UserCode,
		VerificationURI:         da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete,
		ExpiresAt:               da.ExpiresAt,
		Interval:                da.Interval,
		handle:                  &deviceHandle{code: da.DeviceCode, connector: conn.Connector, option: conn.Option},
	}, nil
}

// CompleteDeviceAuthorization polls the token endpoint until the user has
// approved da (RFC 8628 section 3.4 and 3.5: authorization_pending polls
// again, slow_down polls 5 s slower), then maps the token response to
// credentials (getCredentialsFromAccessTokenResponse) and, when conn has an
// ID, stores them, like [Engine.CompleteAuthorization]. It returns an error
// matching [oauth2.ErrAccessDenied] when the user refused,
// [oauth2.ErrDeviceCodeExpired] when the codes expired first, and ctx's
// error when ctx ends: give ctx a deadline or cancel it to stop waiting.
func (e *Engine) CompleteDeviceAuthorization(ctx context.Context, conn Connection, da DeviceAuthorization) (map[string]any, error) {
	h := da.handle
	if h == nil {
		return nil, errors.New("device authorization was not started with StartDeviceAuthorization")
	}
	if h.connector != conn.Connector || h.option != conn.Option {
		return nil, fmt.Errorf("device authorization was started for connector %s (option %q), not %s (option %q)", h.connector, h.option, conn.Connector, conn.Option)
	}
	conn, a, cfg, err := e.deviceConfig(ctx, &ctx, conn)
	if err != nil {
		return nil, err
	}
	r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters, h.code)
	hc, dpopKey, err := e.exchangeClient(ctx, cfg, a)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.PollDeviceToken(ctx, hc, &oauth2.DeviceAuthorization{DeviceCode: h.code, ExpiresAt: da.ExpiresAt, Interval: da.Interval}, e.wait)
	if err != nil {
		return nil, redactError(tokenError(err), r)
	}
	return e.storeFlowToken(ctx, a, conn, tok, dpopKey, nil, nil, r)
}

// deviceConfig is getOAuthConfig of a connection that may use the device
// flow; *ctx gets the flow's wire (client certificate).
func (e *Engine) deviceConfig(ctx context.Context, ctxOut *context.Context, conn Connection) (Connection, *Auth, oauth2.Config, error) {
	conn, a, _, err := e.oauthAuth(conn)
	if err != nil {
		return conn, nil, oauth2.Config{}, err
	}
	if a.Spec.Type != "oauth2" {
		return conn, nil, oauth2.Config{}, fmt.Errorf("connector %s (option %q) is %s: the device flow is OAuth 2.0 only", conn.Connector, conn.Option, a.Spec.Type)
	}
	if ctx, err = e.flowContext(ctx, a, conn); err != nil {
		return conn, nil, oauth2.Config{}, err
	}
	*ctxOut = ctx
	cfg, err := e.oauthConfig(ctx, a, conn, "", "")
	if err != nil {
		return conn, nil, oauth2.Config{}, err
	}
	if cfg.DeviceAuthorizationURI == "" {
		return conn, nil, oauth2.Config{}, fmt.Errorf("connector %s (option %q) has no deviceAuthorizationUri in getOAuthConfig: it does not offer the device flow", conn.Connector, conn.Option)
	}
	if a.Methods[spec.MethodGetTokenData] != nil {
		return conn, nil, oauth2.Config{}, fmt.Errorf("connector %s (option %q) exchanges codes with getTokenData, which the device flow cannot use", conn.Connector, conn.Option)
	}
	return conn, a, cfg, nil
}
