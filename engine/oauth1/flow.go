package oauth1

import (
	"github.com/connspec/connspec/internal/endpoint"
	"github.com/connspec/connspec/internal/nesting"

	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxResponseSize is the most of a credentials response that is read; a
// larger response is a transient ProviderError.
const MaxResponseSize = 1 << 20

// DefaultTimeout bounds a credentials request when neither the context nor
// the http.Client sets a deadline.
const DefaultTimeout = 30 * time.Second

// OutOfBand is the oauth_callback value that asks the provider to show the
// verifier to the user instead of redirecting (RFC 5849 section 2.1).
const OutOfBand = "oob"

// Token is a pair of token credentials or temporary credentials.
type Token struct {
	// Token is oauth_token, Secret oauth_token_secret.
	Token, Secret string
	// Raw is the whole response (user_id, screen_name,
	// oauth_callback_confirmed, oauth_expires_in, ...), the first value of
	// each field.
	Raw map[string]string
}

// RequestToken obtains temporary credentials (RFC 5849 section 2.1): a
// signed POST to RequestTokenURI with oauth_callback set to callbackURI
// ("" means "oob") and, when Scopes is not empty, a form body field scope.
// When the response carries oauth_callback_confirmed it must be "true".
// hc nil means http.DefaultClient.
func (c Config) RequestToken(ctx context.Context, hc *http.Client, callbackURI string) (*Token, error) {
	if c.RequestTokenURI == "" {
		return nil, errors.New("oauth1: requestTokenUri is required")
	}
	if err := read.URL("requestTokenUri", c.RequestTokenURI); err != nil {
		return nil, err
	}
	if callbackURI == "" {
		callbackURI = OutOfBand
	}
	var body []Param
	if scope := c.scope(); scope != "" {
		body = append(body, Param{"scope", scope})
	}
	tok, err := c.credentialsRequest(ctx, hc, "temporary credential request", c.RequestTokenURI, nil,
		map[string]string{"oauth_callback": callbackURI}, body)
	if err != nil {
		return nil, err
	}
	if v, ok := tok.Raw["oauth_callback_confirmed"]; ok && v != "true" {
		return nil, &ProviderError{Op: "temporary credential request", Status: http.StatusOK, Err: errCallbackRefused}
	}
	return tok, nil
}

// AuthorizationURL returns the URL to send the resource owner to (RFC 5849
// section 2.2): AuthorizeURI with its own query kept, plus Extra, plus
// oauth_token of the temporary credentials, which wins over both.
func (c Config) AuthorizationURL(temp *Token) (string, error) {
	if c.AuthorizeURI == "" {
		return "", errors.New("oauth1: authorizeUri is required")
	}
	if err := read.URL("authorizeUri", c.AuthorizeURI); err != nil {
		return "", err
	}
	if temp == nil || temp.Token == "" {
		return "", errors.New("oauth1: temporary credentials are required for the authorization URL")
	}
	u, err := url.Parse(c.AuthorizeURI)
	if err != nil {
		return "", errors.New("oauth1: authorizeUri must be an absolute http or https URL")
	}
	q := u.Query()
	for k, v := range c.Extra {
		q.Set(k, v)
	}
	q.Set("oauth_token", temp.Token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ParseCallback reads the query of the redirect back from the provider
// (RFC 5849 section 2.2) and returns oauth_verifier. A denial is a
// *DeniedError (errors.Is(err, ErrDenied)): a denied parameter (Twitter), an
// oauth_problem or error parameter, or a callback that names the temporary
// credentials but carries no verifier. Otherwise oauth_token must equal
// temp.Token, compared in constant time, or the error is ErrTokenMismatch.
func ParseCallback(query url.Values, temp *Token) (verifier string, err error) {
	if temp == nil || temp.Token == "" {
		return "", errors.New("oauth1: temporary credentials are required to check the callback")
	}
	if _, ok := query["denied"]; ok {
		return "", &DeniedError{Problem: "denied"}
	}
	for _, key := range []string{"oauth_problem", "error"} {
		if p := query.Get(key); p != "" {
			return "", &DeniedError{Problem: endpoint.CleanText(endpoint.Scrub(p, secretForms(temp.Secret)))}
		}
	}
	got := query.Get("oauth_token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(temp.Token)) != 1 {
		return "", ErrTokenMismatch
	}
	verifier = query.Get("oauth_verifier")
	if verifier == "" {
		return "", &DeniedError{Problem: "missing oauth_verifier"}
	}
	return verifier, nil
}

// AccessToken trades temporary credentials and the verifier from the
// callback for token credentials (RFC 5849 section 2.3): a POST to TokenURI
// signed with temp and carrying oauth_verifier (left out when verifier is
// "", for OAuth 1.0 providers). hc nil means http.DefaultClient.
func (c Config) AccessToken(ctx context.Context, hc *http.Client, temp *Token, verifier string) (*Token, error) {
	if c.TokenURI == "" {
		return nil, errors.New("oauth1: tokenUri is required")
	}
	if err := read.URL("tokenUri", c.TokenURI); err != nil {
		return nil, err
	}
	if temp == nil || temp.Token == "" {
		return nil, errors.New("oauth1: temporary credentials are required for the token request")
	}
	var extra map[string]string
	if verifier != "" {
		extra = map[string]string{"oauth_verifier": verifier}
	}
	return c.credentialsRequest(ctx, hc, "token request", c.TokenURI, temp, extra, nil)
}

// credentialsRequest sends a signed POST to uri and parses the credentials
// in the answer. It does not follow redirects and reads at most
// MaxResponseSize bytes.
func (c Config) credentialsRequest(ctx context.Context, hc *http.Client, op, uri string, tok *Token, extra map[string]string, body []Param) (*Token, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	if _, ok := ctx.Deadline(); !ok && hc.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	payload := appendEncoded("", body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(payload))
	if err != nil {
		return nil, errors.New("oauth1: the endpoint URI must be an absolute http or https URL")
	}
	if payload != "" || c.Placement == PlacementBody {
		req.Header.Set("Content-Type", formType)
	}
	if payload == "" {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	if err := c.Sign(req, tok, extra); err != nil {
		return nil, err
	}
	var secrets []string
	if tok != nil {
		secrets = secretForms(c.ConsumerSecret, tok.Secret, extra["oauth_verifier"])
	} else {
		secrets = secretForms(c.ConsumerSecret)
	}

	resp, err := endpoint.NoRedirects(hc).Do(req)
	if err != nil {
		return nil, &ProviderError{Op: op, Transient: true, Err: endpoint.TransportCause(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, &ProviderError{Op: op, Status: resp.StatusCode, Transient: true, Err: endpoint.TransportCause(err)}
	}
	if len(data) > MaxResponseSize {
		return nil, &ProviderError{Op: op, Status: resp.StatusCode, Transient: true, Err: errTooLarge}
	}
	t, perr := parseCredentials(resp, data)
	if perr != nil {
		perr.Op = op
		perr.Problem = endpoint.CleanText(endpoint.Scrub(perr.Problem, secrets))
		perr.Advice = endpoint.CleanText(endpoint.Scrub(perr.Advice, secrets))
		return nil, perr
	}
	return t, nil
}

// parseCredentials interprets a credentials response: form-encoded as RFC
// 5849 says, or a JSON object of strings, which some providers send.
func parseCredentials(resp *http.Response, data []byte) (*Token, *ProviderError) {
	status := resp.StatusCode
	if status >= 300 && status < 400 {
		return nil, &ProviderError{Status: status, Err: errRedirect}
	}
	fields, perr := decodeFields(resp.Header.Get("Content-Type"), data)
	if status < 200 || status > 299 {
		pe := &ProviderError{
			Status:    status,
			Transient: status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests,
		}
		if perr == nil {
			pe.Problem, pe.Advice = fields["oauth_problem"], fields["oauth_problem_advice"]
		}
		if pe.Problem == "" {
			pe.Problem = headerProblem(resp.Header.Values("WWW-Authenticate"))
		}
		return nil, pe
	}
	if perr != nil {
		return nil, &ProviderError{Status: status, Transient: true, Err: perr}
	}
	if p := fields["oauth_problem"]; p != "" {
		return nil, &ProviderError{Status: status, Problem: p, Advice: fields["oauth_problem_advice"]}
	}
	tok := &Token{Token: fields["oauth_token"], Secret: fields["oauth_token_secret"], Raw: fields}
	if tok.Token == "" {
		return nil, &ProviderError{Status: status, Transient: true, Err: errNoToken}
	}
	if _, ok := fields["oauth_token_secret"]; !ok {
		return nil, &ProviderError{Status: status, Transient: true, Err: errNoSecret}
	}
	return tok, nil
}

// decodeFields reads a form-encoded body or a JSON object; the first value
// of a repeated field wins.
func decodeFields(contentType string, data []byte) (map[string]string, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if len(data) == 0 {
		return nil, errors.New("empty response body")
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case data[0] == '{':
		if err := nesting.CheckJSON(data); err != nil {
			return nil, fmt.Errorf("JSON response is %w", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil || m == nil {
			return nil, errMalformed
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			if s, err := read.String(k, v); err == nil {
				out[k] = s
			}
		}
		return out, nil
	case data[0] == '<' || strings.Contains(mt, "html") || strings.Contains(mt, "xml"):
		return nil, errUnexpectedFormat
	}
	ps, err := parseForm(nil, string(data))
	if err != nil || len(ps) == 0 {
		return nil, errMalformed
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		if p.Key == "" || strings.ContainsAny(p.Key, " \t\r\n") {
			return nil, errMalformed
		}
		if _, seen := out[p.Key]; !seen {
			out[p.Key] = p.Value
		}
	}
	return out, nil
}

// headerProblem finds oauth_problem in WWW-Authenticate: OAuth ... headers
// (Problem Reporting extension).
func headerProblem(values []string) string {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "OAuth") {
			continue
		}
		for part := range strings.SplitSeq(rest, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || strings.TrimSpace(k) != "oauth_problem" {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if dec, err := url.PathUnescape(val); err == nil {
				val = dec
			}
			return val
		}
	}
	return ""
}
