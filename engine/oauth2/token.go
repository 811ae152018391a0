package oauth2

import (
	"github.com/connspec/connspec/internal/endpoint"

	"github.com/connspec/connspec/internal/mapvalue"
	"github.com/connspec/connspec/internal/nesting"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Token is a parsed token response.
type Token struct {
	// AccessToken is the access_token, never empty in a Token this package
	// returns.
	AccessToken string
	// RefreshToken is the refresh_token, "" when the response had none. After
	// a refresh that is common: the caller keeps the refresh token it used.
	RefreshToken string
	// TokenType is token_type as the provider spelled it ("Bearer",
	// "bearer", ...), "" when absent.
	TokenType string
	// Scope is the granted scope; an array of scopes is joined with " ".
	Scope string
	// ExpiresAt is when the access token expires; zero means it does not.
	ExpiresAt time.Time
	// RefreshTokenExpiresAt is when the refresh token lapses, when the
	// response tells it (see RefreshTokenExpiry); zero when it does not.
	RefreshTokenExpiresAt time.Time
	// Raw is the whole decoded response. JSON numbers are float64, as
	// encoding/json decodes them into any; a form-encoded response gives
	// strings (the first value of each field).
	Raw map[string]any
}

// Expired reports whether the token is expired at now, or will be within
// margin. A token with a zero ExpiresAt never expires; a nil token or one
// without an access token is expired.
func (t *Token) Expired(now time.Time, margin time.Duration) bool {
	if t == nil || t.AccessToken == "" {
		return true
	}
	if t.ExpiresAt.IsZero() {
		return false
	}
	return !now.Add(margin).Before(t.ExpiresAt)
}

// RFC 6749 error codes that mean "try again later".
var transientCodes = map[string]bool{
	"server_error":            true,
	"temporarily_unavailable": true,
}

// ParseTokenResponse interprets a token endpoint response.
//
// The body may be JSON or application/x-www-form-urlencoded (GitHub sends
// the latter unless asked for JSON); a body that starts with "{" is read as
// JSON whatever its content type. Expiry comes from expires_in (a number or
// a numeric string; "expires" is accepted as an older spelling), else from
// expires_at (unix seconds as a number or string, values above 1e11 taken as
// milliseconds, or an RFC 3339 string), else defaultExpiresIn after now,
// else ExpiresAt is zero. A lifetime of zero or less counts as absent.
//
// Every failure is a *TokenError: a non-2xx status, a body carrying
// "error" (even with status 200), a response without access_token, and
// empty, HTML or otherwise unreadable bodies, which are Transient.
func ParseTokenResponse(status int, contentType string, body []byte, now time.Time, defaultExpiresIn time.Duration) (*Token, error) {
	return parseTokenResponse(status, contentType, body, now, defaultExpiresIn, nil)
}

// parseTokenResponse is ParseTokenResponse with the secrets of the request
// scrubbed from the provider's error text before it is cleaned and cut.
func parseTokenResponse(status int, contentType string, body []byte, now time.Time, defaultExpiresIn time.Duration, secrets []string) (*Token, error) {
	if status >= 300 && status < 400 {
		return nil, &TokenError{Status: status, Err: errRedirect}
	}
	raw, perr := decodeBody(contentType, body)
	ok := status >= 200 && status < 300
	if perr != nil {
		return nil, &TokenError{Status: status, Transient: true, Err: perr}
	}
	if code, desc, found := errorFields(raw); found || !ok {
		te := &TokenError{Status: status, Code: endpoint.CleanText(endpoint.Scrub(code, secrets)), Description: endpoint.CleanText(endpoint.Scrub(desc, secrets))}
		te.Transient = transientCodes[te.Code] || status >= 500 || status == 408 || status == 429
		if te.Code == "" && te.Description == "" {
			te.Err = errors.New("response carries no error code")
		}
		return nil, te
	}
	tok := &Token{Raw: raw}
	tok.AccessToken, _ = raw["access_token"].(string)
	if tok.AccessToken == "" {
		return nil, &TokenError{Status: status, Transient: true, Err: errNoAccessToken}
	}
	tok.RefreshToken, _ = raw["refresh_token"].(string)
	tok.TokenType, _ = raw["token_type"].(string)
	tok.Scope = scopeString(raw["scope"])
	tok.ExpiresAt = expiry(raw, now, defaultExpiresIn)
	tok.RefreshTokenExpiresAt = RefreshTokenExpiry(raw, now)
	return tok, nil
}

// decodeBody returns the fields of a JSON object or form-encoded body.
func decodeBody(contentType string, body []byte) (map[string]any, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty response body")
	}
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if trimmed[0] == '{' {
		if err := nesting.CheckJSON(trimmed); err != nil {
			return nil, fmt.Errorf("JSON response is %w", err)
		}
		var m map[string]any
		if err := json.Unmarshal(trimmed, &m); err != nil || m == nil {
			return nil, errors.New("malformed JSON response")
		}
		return m, nil
	}
	switch {
	case strings.Contains(mediaType, "json"):
		return nil, errors.New("JSON response is not an object")
	case trimmed[0] == '<' || strings.Contains(mediaType, "html") || strings.Contains(mediaType, "xml"):
		return nil, fmt.Errorf("unexpected %s response", describeType(mediaType, "HTML"))
	case mediaType == "" || mediaType == "application/x-www-form-urlencoded" || mediaType == "text/plain":
		vals, err := url.ParseQuery(string(trimmed))
		if err != nil || len(vals) == 0 {
			return nil, errors.New("malformed form-encoded response")
		}
		m := make(map[string]any, len(vals))
		for k, v := range vals {
			if k == "" || strings.ContainsAny(k, " \t\r\n") {
				return nil, errors.New("malformed form-encoded response")
			}
			m[k] = v[0]
		}
		return m, nil
	default:
		return nil, fmt.Errorf("unexpected %s response", describeType(mediaType, "non-JSON"))
	}
}

// describeType names a media type in an error; it is the provider's header,
// so it is cleaned.
func describeType(mediaType, fallback string) string {
	if mediaType == "" {
		return fallback
	}
	return endpoint.CleanText(mediaType)
}

// errorFields finds an RFC 6749 error, or the common
// {"error": {"code"|"type": ..., "message": ...}} shape.
func errorFields(raw map[string]any) (code, desc string, found bool) {
	switch e := raw["error"].(type) {
	case string:
		if e == "" {
			return "", "", false
		}
		code = e
	case map[string]any:
		code, _ = e["code"].(string)
		if code == "" {
			code, _ = e["type"].(string)
		}
		desc, _ = e["message"].(string)
		if code == "" && desc == "" {
			return "", "", false
		}
	case nil:
		return "", "", false
	default:
		if b, ok := e.(bool); ok && !b {
			return "", "", false
		}
		code = fmt.Sprint(e)
	}
	if d, ok := raw["error_description"].(string); ok && d != "" {
		desc = d
	}
	return code, desc, true
}

func scopeString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func expiry(raw map[string]any, now time.Time, defaultExpiresIn time.Duration) time.Time {
	for _, key := range []string{"expires_in", "expires"} {
		if f, ok := number(raw[key]); ok && f > 0 {
			return now.Add(mapvalue.Duration(f))
		}
	}
	if t, ok := absoluteTime(raw["expires_at"]); ok {
		return t
	}
	if defaultExpiresIn > 0 {
		return now.Add(defaultExpiresIn)
	}
	return time.Time{}
}

// RefreshTokenExpiry reads when a token response says its refresh token
// lapses: refresh_token_expires_in (Microsoft, GitHub apps, Salesforce's
// spelling of several), x_refresh_token_expires_in (QuickBooks) or
// refresh_expires_in (Keycloak) in seconds, else refresh_token_expires_at
// as an absolute time (as expires_at). Zero when it says nothing; a
// lifetime of zero or less counts as nothing (Keycloak's 0 is "does not
// lapse").
func RefreshTokenExpiry(raw map[string]any, now time.Time) time.Time {
	for _, key := range []string{"refresh_token_expires_in", "x_refresh_token_expires_in", "refresh_expires_in"} {
		if f, ok := number(raw[key]); ok && f > 0 {
			return now.Add(mapvalue.Duration(f))
		}
	}
	if t, ok := absoluteTime(raw["refresh_token_expires_at"]); ok {
		return t
	}
	return time.Time{}
}

// number reads a finite JSON number or numeric string.
func number(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// maxUnix is the year 9999; later instants are nonsense.
const maxUnix = 253402300799

func absoluteTime(v any) (time.Time, bool) {
	if f, ok := number(v); ok {
		if f > 1e11 {
			f /= 1000 // milliseconds
		}
		if f <= 0 || f > maxUnix {
			return time.Time{}, false
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), true
	}
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
