package oauth2

import (
	"github.com/connspec/connspec/internal/endpoint"

	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// GrantDeviceCode is the grant_type of device access token requests (RFC
// 8628 section 3.4).
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// DefaultDeviceInterval is the polling interval when the device
// authorization response has none (RFC 8628 section 3.2).
const DefaultDeviceInterval = 5 * time.Second

// SlowDownStep is added to the polling interval on every slow_down answer
// (RFC 8628 section 3.5).
const SlowDownStep = 5 * time.Second

// MaxDeviceInterval caps the polling interval a server may ask for, so a
// hostile answer cannot park the poll for days.
const MaxDeviceInterval = 5 * time.Minute

// maxTransientPolls is how many transient failures in a row (transport
// errors, 5xx) polling rides out, backing off, before it gives up.
const maxTransientPolls = 5

// maxDeviceField caps user_code and the verification URIs, which are shown.
const maxDeviceField = 2048

// ErrAccessDenied matches, with errors.Is, a device flow the user refused
// (the token endpoint answered access_denied).
var ErrAccessDenied = errors.New("oauth2: the user denied the device authorization")

// ErrDeviceCodeExpired matches, with errors.Is, a device flow whose device
// code expired before the user approved it (expired_token, or its
// expires_in passed while polling).
var ErrDeviceCodeExpired = errors.New("oauth2: the device code expired before the user approved it; start again")

// DeviceAuthorization is a device authorization response (RFC 8628 section
// 3.2). Show the user UserCode and VerificationURI (or
// VerificationURIComplete); keep DeviceCode, a secret, for PollDeviceToken.
type DeviceAuthorization struct {
	// DeviceCode is the secret device_code; never show it.
	DeviceCode string
	// UserCode is the code the user types at VerificationURI.
	UserCode string
	// VerificationURI is where the user goes.
	VerificationURI string
	// VerificationURIComplete, "" when absent, is VerificationURI with the
	// user code filled in, for a link or a QR code.
	VerificationURIComplete string
	// ExpiresAt is when DeviceCode and UserCode expire.
	ExpiresAt time.Time
	// Interval is the least time between polls, DefaultDeviceInterval when
	// the server gave none.
	Interval time.Duration
}

// StartDeviceAuthorization sends the device authorization request (RFC 8628
// section 3.1): client_id, scope (omitted if empty) and client
// authentication as for token requests, POSTed to DeviceAuthorizationURI.
// Errors are *TokenError values naming the device authorization endpoint,
// apart from a missing or bad URI; a response without device_code,
// user_code, verification_uri or a positive expires_in is refused.
func (c Config) StartDeviceAuthorization(ctx context.Context, hc *http.Client) (*DeviceAuthorization, error) {
	if c.DeviceAuthorizationURI == "" {
		return nil, errors.New("oauth2: deviceAuthorizationUri is required for the device authorization grant")
	}
	params := map[string]string{}
	if scope := c.scope(); scope != "" {
		params["scope"] = scope
	}
	if c.ClientID != "" {
		params["client_id"] = c.ClientID // RFC 8628 section 3.1: sent even by confidential clients
	}
	const name = "device authorization endpoint"
	ans, err := c.post(ctx, hc, params, "deviceAuthorizationUri", c.DeviceAuthorizationURI, name)
	if err != nil {
		return nil, err
	}
	if ans.status >= 300 && ans.status < 400 {
		return nil, &TokenError{Endpoint: name, Status: ans.status, Err: errRedirect}
	}
	raw, perr := decodeBody(ans.contentType, ans.body)
	if perr != nil {
		return nil, &TokenError{Endpoint: name, Status: ans.status, Transient: true, Err: perr}
	}
	if code, desc, found := errorFields(raw); found || ans.status < 200 || ans.status >= 300 {
		te := &TokenError{Endpoint: name, Status: ans.status, Code: endpoint.CleanText(endpoint.Scrub(code, ans.secrets)), Description: endpoint.CleanText(endpoint.Scrub(desc, ans.secrets))}
		te.Transient = transientCodes[te.Code] || ans.status >= 500 || ans.status == 408 || ans.status == 429
		if te.Code == "" && te.Description == "" {
			te.Err = errors.New("response carries no error code")
		}
		return nil, te
	}
	da := &DeviceAuthorization{}
	da.DeviceCode, _ = raw["device_code"].(string)
	da.UserCode, _ = raw["user_code"].(string)
	da.VerificationURI, _ = raw["verification_uri"].(string)
	if da.VerificationURI == "" {
		da.VerificationURI, _ = raw["verification_url"].(string) // Google's older spelling
	}
	da.VerificationURIComplete, _ = raw["verification_uri_complete"].(string)
	bad := func(what string) error {
		return &TokenError{Endpoint: name, Status: ans.status, Err: errors.New(what)}
	}
	switch {
	case da.DeviceCode == "":
		return nil, bad("response has no device_code")
	case da.UserCode == "" || len(da.UserCode) > maxDeviceField || endpoint.CleanText(da.UserCode) != da.UserCode:
		return nil, bad("response has no usable user_code")
	case read.URL("verification_uri", da.VerificationURI) != nil || len(da.VerificationURI) > maxDeviceField:
		return nil, bad("response has no absolute http(s) verification_uri")
	case da.VerificationURIComplete != "" && (read.URL("verification_uri_complete", da.VerificationURIComplete) != nil || len(da.VerificationURIComplete) > maxDeviceField):
		return nil, bad("response's verification_uri_complete is not an absolute http(s) URL")
	}
	life, ok := number(raw["expires_in"])
	if !ok || life <= 0 {
		return nil, bad("response has no positive expires_in")
	}
	now := c.now()
	da.ExpiresAt = now.Add(durationOf(life))
	da.Interval = DefaultDeviceInterval
	if v, ok := raw["interval"]; ok && v != nil {
		f, ok := number(v)
		if !ok || f < 0 {
			return nil, bad("response's interval is not a number of seconds")
		}
		if f > 0 {
			da.Interval = min(durationOf(f), MaxDeviceInterval)
		}
	}
	return da, nil
}

// durationOf converts seconds, capped at a year.
func durationOf(sec float64) time.Duration {
	const year = 365 * 24 * time.Hour
	if sec >= year.Seconds() {
		return year
	}
	return time.Duration(sec * float64(time.Second))
}

// PollDeviceToken polls the token endpoint with grant_type GrantDeviceCode
// and da's device code (RFC 8628 section 3.4) until the user approves,
// waiting da.Interval before each poll: authorization_pending polls again,
// slow_down adds SlowDownStep to the interval for this and every later poll
// (section 3.5), transient failures back off (doubling the interval) up to
// maxTransientPolls in a row. It stops with an error matching
// ErrAccessDenied on access_denied, ErrDeviceCodeExpired on expired_token or
// when the next poll would come after da.ExpiresAt, the context's error when
// ctx ends, and the *TokenError of any other failure.
//
// wait sleeps for d or until ctx ends (returning ctx.Err()); nil means a
// timer. Tests pass a fake one.
func (c Config) PollDeviceToken(ctx context.Context, hc *http.Client, da *DeviceAuthorization, wait func(ctx context.Context, d time.Duration) error) (*Token, error) {
	if da == nil || da.DeviceCode == "" {
		return nil, errors.New("oauth2: no device code to poll with")
	}
	if wait == nil {
		wait = sleep
	}
	interval := da.Interval
	if interval <= 0 {
		interval = DefaultDeviceInterval
	}
	params := copyParams(c.TokenParams)
	params["grant_type"] = GrantDeviceCode
	params["device_code"] = da.DeviceCode
	transient := 0
	for {
		if !da.ExpiresAt.IsZero() && c.now().Add(interval).After(da.ExpiresAt) {
			return nil, ErrDeviceCodeExpired
		}
		if err := wait(ctx, interval); err != nil {
			return nil, fmt.Errorf("oauth2: waiting for the user to approve the device: %w", err)
		}
		tok, err := c.TokenRequest(ctx, hc, params, c.TokenURI)
		if err == nil {
			return tok, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("oauth2: waiting for the user to approve the device: %w", ctx.Err())
		}
		var te *TokenError
		if !errors.As(err, &te) {
			return nil, err
		}
		switch {
		case te.Code == "authorization_pending":
			transient = 0
		case te.Code == "slow_down":
			transient = 0
			interval = min(interval+SlowDownStep, MaxDeviceInterval)
		case te.Code == "access_denied":
			return nil, &deviceError{sentinel: ErrAccessDenied, te: te}
		case te.Code == "expired_token":
			return nil, &deviceError{sentinel: ErrDeviceCodeExpired, te: te}
		case te.Transient && transient < maxTransientPolls:
			transient++
			interval = min(interval*2, MaxDeviceInterval)
		default:
			return nil, err
		}
	}
}

// deviceError is a terminal device flow answer: it matches its sentinel
// and unwraps to the *TokenError.
type deviceError struct {
	sentinel error
	te       *TokenError
}

func (e *deviceError) Error() string   { return e.sentinel.Error() + " (" + e.te.Error() + ")" }
func (e *deviceError) Unwrap() []error { return []error{e.sentinel, e.te} }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
