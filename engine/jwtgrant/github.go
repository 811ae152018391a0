package jwtgrant

import (
	"github.com/connspec/connspec/internal/endpoint"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHub App JWT timing (docs.github.com, "Generating a JSON Web Token (JWT)
// for a GitHub App"): iat 60 seconds in the past against clock drift, exp
// at most 10 minutes after iat.
const (
	GitHubAppClockSkew = 60 * time.Second
	GitHubAppLifetime  = 9 * time.Minute // exp - iat = 10 minutes
)

// GitHubAPI is the REST API base of github.com; GitHub Enterprise Server
// uses https://HOST/api/v3.
const GitHubAPI = "https://api.github.com"

// maxGitHubResponse bounds the installation token response read.
const maxGitHubResponse = 1 << 20

// defaultGitHubTimeout bounds the exchange when neither the context nor
// the client sets a deadline.
const defaultGitHubTimeout = 30 * time.Second

// ErrInstallationNotFound matches, with errors.Is, a [*GitHubError] for
// HTTP 404: the installation id is wrong or the app was uninstalled, so the
// connection must be set up again.
var ErrInstallationNotFound = errors.New("jwtgrant: GitHub App installation not found")

// GitHubAppJWT signs the JWT a GitHub App authenticates as itself with:
// RS256, iss the app id (or client id), iat GitHubAppClockSkew in the past,
// exp GitHubAppLifetime from now. GitHub accepts RS256 only, so a key of
// another algorithm is refused.
func GitHubAppJWT(key *Key, appID string, now time.Time) (string, error) {
	if key == nil || key.method == nil {
		return "", errors.New("jwtgrant: no GitHub App private key")
	}
	if key.Algorithm() != "RS256" {
		return "", fmt.Errorf("jwtgrant: GitHub Apps sign with RS256, not %s", key.Algorithm())
	}
	if appID == "" || strings.ContainsAny(appID, " \t\r\n") {
		return "", errors.New("jwtgrant: GitHub App id is empty or has spaces")
	}
	mc := map[string]any{
		"iss": appID,
		"iat": now.Add(-GitHubAppClockSkew).Unix(),
		"exp": now.Add(GitHubAppLifetime).Unix(),
	}
	return key.sign(jwt.MapClaims(mc))
}

// InstallationTokenRequest asks for an installation access token.
type InstallationTokenRequest struct {
	// APIBase is the REST API root; "" means GitHubAPI.
	APIBase string
	// InstallationID is the installation's numeric id (from input, or the
	// installation_id of the install redirect). Anything but digits is
	// refused: it goes into the URL path.
	InstallationID string
	// Repositories and Permissions narrow the token; nil means all the
	// installation grants.
	Repositories []string
	Permissions  map[string]string
}

// InstallationToken is an installation access token.
type InstallationToken struct {
	// Token is sent as "Authorization: Bearer" (or "token").
	Token string
	// ExpiresAt is when GitHub stops accepting it (one hour after issue).
	ExpiresAt time.Time
}

// GitHubError is a failed installation token exchange. It never contains
// the app JWT or a token.
type GitHubError struct {
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Message is GitHub's "message", cleaned for display.
	Message string
	// Transient is true for transport errors, 5xx, 429 and malformed
	// responses: worth retrying later.
	Transient bool
	// Err is the cause, if any.
	Err error
}

// Error describes the failure.
func (e *GitHubError) Error() string {
	var b strings.Builder
	if e.Status == 0 {
		b.WriteString("jwtgrant: GitHub installation token request failed")
	} else {
		b.WriteString("jwtgrant: GitHub installation token request returned HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Transient {
		b.WriteString(" (transient)")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *GitHubError) Unwrap() error { return e.Err }

// Is reports whether e is [ErrInstallationNotFound] (HTTP 404).
func (e *GitHubError) Is(target error) bool {
	return target == ErrInstallationNotFound && e.Status == http.StatusNotFound
}

// ExchangeInstallationToken trades an app JWT (see GitHubAppJWT) for an
// installation access token: POST {APIBase}/app/installations/{id}/access_tokens
// with Accept: application/vnd.github+json and the JWT as Bearer. hc nil
// means http.DefaultClient. Redirects are not followed, at most 1 MiB is
// read, and a response without a token or a valid expires_at is an error
// rather than a token that never expires. Failures are *GitHubError.
func ExchangeInstallationToken(ctx context.Context, hc *http.Client, appJWT string, r InstallationTokenRequest) (*InstallationToken, error) {
	uri, err := r.url()
	if err != nil {
		return nil, err
	}
	if appJWT == "" {
		return nil, errors.New("jwtgrant: no GitHub App JWT")
	}
	var payload []byte
	if len(r.Repositories) > 0 || len(r.Permissions) > 0 {
		payload, _ = json.Marshal(map[string]any{"repositories": r.Repositories, "permissions": r.Permissions})
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if _, ok := ctx.Deadline(); !ok && hc.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultGitHubTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(payload))
	if err != nil {
		return nil, errors.New("jwtgrant: GitHub API base must be an absolute http or https URL")
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+appJWT)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := endpoint.NoRedirects(hc).Do(req)
	if err != nil {
		return nil, &GitHubError{Transient: true, Err: endpoint.TransportCause(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxGitHubResponse+1))
	if err != nil {
		return nil, &GitHubError{Status: resp.StatusCode, Transient: true, Err: endpoint.TransportCause(err)}
	}
	if len(data) > maxGitHubResponse {
		return nil, &GitHubError{Status: resp.StatusCode, Transient: true, Err: errors.New("response too large")}
	}
	return parseInstallationToken(resp.StatusCode, data, appJWT)
}

// url builds the access_tokens URL, refusing ids that are not numbers.
func (r InstallationTokenRequest) url() (string, error) {
	if r.InstallationID == "" {
		return "", errors.New("jwtgrant: GitHub installation id is required")
	}
	if _, err := strconv.ParseUint(r.InstallationID, 10, 64); err != nil {
		return "", errors.New("jwtgrant: GitHub installation id must be a number")
	}
	base := r.APIBase
	if base == "" {
		base = GitHubAPI
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("jwtgrant: GitHub API base must be an absolute http or https URL without query")
	}
	return strings.TrimSuffix(base, "/") + "/app/installations/" + r.InstallationID + "/access_tokens", nil
}

// parseInstallationToken reads GitHub's answer; appJWT is scrubbed from
// any message GitHub echoes.
func parseInstallationToken(status int, data []byte, appJWT string) (*InstallationToken, error) {
	var body struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
		Message   string `json:"message"`
	}
	jsonErr := json.Unmarshal(data, &body)
	if status < 200 || status > 299 {
		msg := endpoint.CleanText(endpoint.Scrub(body.Message, []string{appJWT}))
		return nil, &GitHubError{Status: status, Message: msg, Transient: status >= 500 || status == 429}
	}
	if jsonErr != nil {
		return nil, &GitHubError{Status: status, Transient: true, Err: errors.New("response is not a JSON object")}
	}
	if body.Token == "" {
		return nil, &GitHubError{Status: status, Transient: true, Err: errors.New("response has no token")}
	}
	exp, err := time.Parse(time.RFC3339, body.ExpiresAt)
	if err != nil {
		return nil, &GitHubError{Status: status, Transient: true, Err: errors.New("response has no valid expires_at")}
	}
	return &InstallationToken{Token: body.Token, ExpiresAt: exp}, nil
}
