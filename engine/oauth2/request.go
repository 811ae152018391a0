package oauth2

import (
	"github.com/connspec/connspec/internal/endpoint"

	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// MaxResponseSize is the most of a token response that is read; a larger
// response is a transient TokenError.
const MaxResponseSize = 1 << 20

// DefaultTimeout bounds a token request when neither the context nor the
// http.Client sets a deadline.
const DefaultTimeout = 30 * time.Second

// Exchange trades an authorization code for a token (RFC 6749 section
// 4.1.3): grant_type=authorization_code, code, redirect_uri (when not
// empty), code_verifier (unless SkipPKCE or verifier is empty), resource
// (RFC 8707, when Resource is set) and TokenParams, sent to TokenURI. hc nil means http.DefaultClient.
func (c Config) Exchange(ctx context.Context, hc *http.Client, code, redirectURI, verifier string) (*Token, error) {
	if code == "" {
		return nil, errors.New("oauth2: empty authorization code")
	}
	params := copyParams(c.TokenParams)
	params["grant_type"] = GrantAuthorizationCode
	params["code"] = code
	if redirectURI != "" {
		params["redirect_uri"] = redirectURI
	}
	if verifier != "" && !c.SkipPKCE {
		params["code_verifier"] = verifier
	}
	return c.TokenRequest(ctx, hc, c.withResource(params), c.TokenURI)
}

// Refresh trades a refresh token for a new token (RFC 6749 section 6):
// grant_type=refresh_token, refresh_token, resource (when Resource is set)
// and RefreshParams, sent to
// RefreshURI (TokenURI when empty). Scope is not sent unless RefreshParams
// has it.
//
// When the response carries no refresh_token the returned Token's
// RefreshToken is "": the caller must keep using the refresh token it passed
// in. When it carries one, the provider rotated it and the old one may no
// longer work, so the caller must store the new one.
func (c Config) Refresh(ctx context.Context, hc *http.Client, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, errors.New("oauth2: empty refresh token")
	}
	params := copyParams(c.RefreshParams)
	params["grant_type"] = grantRefreshToken
	params["refresh_token"] = refreshToken
	return c.TokenRequest(ctx, hc, c.withResource(params), c.refreshURI())
}

// ClientCredentials asks for a token with the client's own credentials (RFC
// 6749 section 4.4): grant_type=client_credentials, scope (Scopes joined with
// ScopeSeparator, omitted if empty) and TokenParams, sent to TokenURI.
func (c Config) ClientCredentials(ctx context.Context, hc *http.Client) (*Token, error) {
	params := copyParams(c.TokenParams)
	params["grant_type"] = GrantClientCredentials
	c.withResource(params)
	if scope := c.scope(); scope != "" {
		params["scope"] = scope
	}
	return c.TokenRequest(ctx, hc, params, c.TokenURI)
}

// TokenRequest POSTs params to the token endpoint uri ("" means TokenURI)
// and parses the answer with ParseTokenResponse. It adds client
// authentication as ClientAuthLocation says, encodes the body as
// TokenRequestFormat says, sends Accept: application/json and TokenHeaders,
// and does not follow redirects. It reads at most MaxResponseSize bytes and
// applies DefaultTimeout when neither ctx nor hc has a deadline. Exchange,
// Refresh and ClientCredentials are built on it.
//
// Errors are *TokenError values (see there), apart from a bad uri; none
// contains a secret that was sent.
func (c Config) TokenRequest(ctx context.Context, hc *http.Client, params map[string]string, uri string) (*Token, error) {
	if uri == "" {
		uri = c.TokenURI
	}
	ans, err := c.post(ctx, hc, params, "tokenUri", uri, "")
	if err != nil {
		return nil, err
	}
	// The provider's error text is scrubbed while it is whole: cut to
	// length first, a secret cut in half would no longer be found, and its
	// first half would be shown.
	return parseTokenResponse(ans.status, ans.contentType, ans.body, c.now(), c.DefaultExpiresIn, ans.secrets)
}

// answer is an endpoint's response to post, read in full.
type answer struct {
	status      int
	contentType string
	body        []byte
	// secrets are what was sent that the answer must not show.
	secrets []string
}

// post POSTs params to uri (the value of getOAuthConfig's key) with client
// authentication, as TokenRequest documents, and reads at most
// MaxResponseSize bytes of the answer. Failures are *TokenError values with
// Endpoint set to endpointName, apart from a bad uri.
func (c Config) post(ctx context.Context, hc *http.Client, params map[string]string, key, uri, endpointName string) (answer, error) {
	if err := read.URL(key, uri); err != nil {
		return answer{}, err
	}
	body := copyParams(params)
	var basic string
	if c.ClientAssertion != nil || isAssertionAuth(c.ClientAuthLocation) {
		if err := c.addClientAssertion(body, uri); err != nil {
			return answer{}, err
		}
	} else if IsTLSClientAuth(c.ClientAuthLocation) {
		body["client_id"] = c.ClientID // the certificate is the credential; no secret goes anywhere
	} else if c.ClientID != "" {
		loc := c.clientAuthLocation()
		inHeader := c.ClientSecret != "" && loc != AuthInBody
		inBody := c.ClientSecret == "" || loc != AuthInHeaders
		if inHeader {
			basic = base64.StdEncoding.EncodeToString(
				[]byte(url.QueryEscape(c.ClientID) + ":" + url.QueryEscape(c.ClientSecret)))
		}
		if inBody {
			body["client_id"] = c.ClientID
			if c.ClientSecret != "" {
				body["client_secret"] = c.ClientSecret
			}
		}
	}
	secrets := secretsOf(body, c.TokenHeaders, c.ClientSecret, basic)

	var payload []byte
	contentType := "application/x-www-form-urlencoded"
	if c.TokenRequestFormat == FormatJSON {
		contentType = "application/json"
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return answer{}, errors.New("oauth2: encoding the token request") // cannot happen for strings
		}
	} else {
		form := url.Values{}
		for k, v := range body {
			form.Set(k, v)
		}
		payload = []byte(form.Encode())
	}

	if hc == nil {
		hc = http.DefaultClient
	}
	if _, ok := ctx.Deadline(); !ok && hc.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(payload))
	if err != nil {
		return answer{}, errors.New("oauth2: " + key + " must be an absolute http or https URL")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", contentType)
	for k, v := range c.TokenHeaders {
		req.Header.Set(k, v)
	}
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+basic)
	}

	resp, err := endpoint.NoRedirects(hc).Do(req)
	if err != nil {
		return answer{}, &TokenError{Endpoint: endpointName, Transient: true, Err: endpoint.TransportCause(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return answer{}, &TokenError{Endpoint: endpointName, Status: resp.StatusCode, Transient: true, Err: endpoint.TransportCause(err)}
	}
	if len(data) > MaxResponseSize {
		return answer{}, &TokenError{Endpoint: endpointName, Status: resp.StatusCode, Transient: true, Err: errTooLarge}
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: data, secrets: secrets}, nil
}

func copyParams(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+6)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// publicParams are token request fields that are not secret. Every other
// field may be: besides the standard ones, a connector's tokenParams and
// refreshParams often carry an app secret or a signed assertion.
var publicParams = map[string]bool{"grant_type": true, "client_id": true, "redirect_uri": true, "scope": true, "client_assertion_type": true,
	"subject_token_type": true, "actor_token_type": true, "requested_token_type": true, "audience": true, "resource": true}

// minExtraSecret is the length below which a value other than the standard
// secret fields is not scrubbed: short values ("1", "web") are too common in
// provider text to replace.
const minExtraSecret = 4

// secretsOf lists what a provider might echo back from a request: secret
// body fields and the connector's extra token request headers, raw and
// form-encoded, and the Basic credentials.
func secretsOf(body, headers map[string]string, clientSecret, basic string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s, url.QueryEscape(s))
		}
	}
	for _, k := range []string{"client_secret", "code", "code_verifier", "refresh_token", "password", "assertion", "client_assertion", "device_code", "subject_token", "actor_token"} {
		add(body[k])
	}
	for k, v := range body {
		if !publicParams[k] && len(v) >= minExtraSecret {
			add(v)
		}
	}
	for _, v := range headers {
		if len(v) >= minExtraSecret {
			add(v)
		}
	}
	add(clientSecret)
	add(basic)
	return out
}
