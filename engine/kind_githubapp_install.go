package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/internal/endpoint"
)

// The GitHub App install flow: the user is sent to the app's install page;
// GitHub sends them back with installation_id and, when the app requests
// user authorization during installation, an OAuth code. installation_id
// alone is spoofable (docs.github.com, "About the setup URL"): anyone can
// call the callback with another account's id. So the code is exchanged
// for a token of the user who installed the app, and the installation must
// be one GET /user/installations lists for that user; else nothing is
// stored. The user token is used for that check only and then dropped.

// Bounds of the /user/installations walk: a user who can access more than
// maxInstallationPages*installationsPerPage installations of one app is
// refused rather than half checked.
const (
	installationsPerPage = 100
	maxInstallationPages = 10
	// maxInstallationsPage bounds one page's body.
	maxInstallationsPage = 4 << 20
)

// gitHubAppInstall is the install flow's app: the slug of its public page
// and its OAuth client, which verifies the installer.
type gitHubAppInstall struct {
	slug, clientID, clientSecret string
}

// parseGitHubAppInstall reads the install flow's keys of
// getGitHubAppConfig's result.
func parseGitHubAppInstall(raw map[string]any) (*gitHubAppInstall, error) {
	if raw["installationId"] != nil {
		return nil, errors.New("installationId and appSlug exclude each other: with appSlug the installation comes from the install flow")
	}
	in := &gitHubAppInstall{}
	for _, f := range []struct {
		key  string
		into *string
		what string
	}{
		{"appSlug", &in.slug, "the GitHub App's slug, from its public page github.com/apps/SLUG"},
		{"clientId", &in.clientID, "the GitHub App's client ID"},
		{"clientSecret", &in.clientSecret, "a client secret of the GitHub App"},
	} {
		v, ok := raw[f.key].(string)
		if !ok || v == "" {
			if raw[f.key] != nil {
				return nil, fmt.Errorf("%s must be a string (%s), not %s", f.key, f.what, describeValue(raw[f.key]))
			}
			return nil, fmt.Errorf("%s (%s) is required for the install flow", f.key, f.what)
		}
		*f.into = v
	}
	// The slug goes into the install page's path.
	if strings.Trim(strings.ToLower(in.slug), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, errors.New("appSlug must be letters, digits and hyphens (the app's URL name)")
	}
	if strings.ContainsAny(in.clientID, " \t\r\n") {
		return nil, errors.New("clientId has spaces")
	}
	return in, nil
}

// gitHubWebBase is the web root of the GitHub apiBase belongs to, and
// whether it is github.com: api.github.com's is https://github.com, a
// GitHub Enterprise Server's (https://HOST/api/v3) is https://HOST. It is
// derived, not configured, so that the code and the client secret go to
// the GitHub the connector names (apiBase passed the strict host rule).
func gitHubWebBase(apiBase string) (string, bool, error) {
	if apiBase == "" {
		return "https://github.com", true, nil
	}
	u, err := url.Parse(apiBase)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false, errors.New("apiBase must be an absolute http or https URL")
	}
	if strings.EqualFold(u.Hostname(), "api.github.com") {
		return "https://github.com", true, nil
	}
	return u.Scheme + "://" + u.Host, false, nil
}

// installURL is the app's install page with state: github.com/apps/SLUG/
// installations/new, or HOST/github-apps/SLUG/installations/new on GitHub
// Enterprise Server (docs.github.com, "Sharing your GitHub App").
func (s *gitHubAppSession) installURL(state string) (string, error) {
	web, dotcom, err := gitHubWebBase(s.req.APIBase)
	if err != nil {
		return "", err
	}
	dir := "/github-apps/"
	if dotcom {
		dir = "/apps/"
	}
	return web + dir + s.install.slug + "/installations/new?" + url.Values{"state": {state}}.Encode(), nil
}

// AuthorizationURL starts the install flow: the app's install page, with a
// fresh state. redirectURI is not sent: GitHub returns to the app's
// configured callback URL.
func (gitHubAppKind) AuthorizationURL(ctx context.Context, e *Engine, a *Auth, conn Connection, redirectURI string) (AuthorizationRequest, error) {
	s, err := e.gitHubAppSession(ctx, a, conn)
	if err != nil {
		return AuthorizationRequest{}, err
	}
	state, err := oauth2.NewState()
	if err != nil {
		return AuthorizationRequest{}, err
	}
	u, err := s.installURL(state)
	if err != nil {
		return AuthorizationRequest{}, fmt.Errorf("github-app install flow: %w", err)
	}
	return AuthorizationRequest{URL: u, State: state}, nil
}

// CompleteAuthorization finishes the install flow: it checks state, proves
// with the callback's code that the signing-in user can access the
// installation_id it names, and mints the installation's first token. The
// credentials are {installation_id, token, expires_at}, stored when conn
// has an ID; nothing is stored when a check fails.
func (gitHubAppKind) CompleteAuthorization(ctx context.Context, e *Engine, a *Auth, conn Connection, callback url.Values, redirectURI, state, verifier string) (map[string]any, error) {
	s, err := e.gitHubAppSession(ctx, a, conn)
	if err != nil {
		return nil, err
	}
	r := s.redactor(a.redactor(conn.ConnectionParameters, conn.ConnectorParameters))
	code, err := oauth2.ParseCallback(callback, state)
	if errors.Is(err, oauth2.ErrMissingCode) {
		return nil, fmt.Errorf(`github-app install flow: the callback has no code, so the user who installed the app cannot be verified: enable "Request user authorization (OAuth) during installation" in the GitHub App's settings: %w`, err)
	}
	if err != nil {
		return nil, redactCallbackError(err, r)
	}
	r = r.With(code)
	id, err := callbackInstallationID(callback)
	if err != nil {
		return nil, err
	}
	hc := e.tokenHTTPClient(ctx)
	userToken, err := s.userToken(ctx, e, hc, code)
	if err != nil {
		return nil, redactError(fmt.Errorf("github-app install flow: exchanging the code for the installer's token: %w", tokenError(err)), r)
	}
	r = r.With(userToken)
	if err := s.checkUserInstallation(ctx, hc, userToken, id); err != nil {
		return nil, redactError(err, r)
	}
	creds, err := s.mint(ctx, e, hc, id, r)
	if err != nil {
		return nil, err
	}
	if conn.ID != "" {
		if err := e.overwrite(ctx, conn, creds); err != nil {
			return nil, err
		}
	}
	return creds, nil
}

// callbackInstallationID reads the callback's installation_id: digits
// only (it goes into a URL path), without leading zeros.
func callbackInstallationID(callback url.Values) (string, error) {
	raw := callback.Get("installation_id")
	if raw == "" {
		return "", errors.New("github-app install flow: the callback has no installation_id")
	}
	n, err := strconv.ParseUint(raw, 10, 64)
	if !digitsOnly(raw) || err != nil {
		return "", errors.New("github-app install flow: the callback's installation_id must be digits only")
	}
	return strconv.FormatUint(n, 10), nil
}

// userToken exchanges the install callback's code for a user access token
// of the app (docs.github.com, "Generating a user access token for a
// GitHub App"), at the web root of the app's GitHub.
func (s *gitHubAppSession) userToken(ctx context.Context, e *Engine, hc *http.Client, code string) (string, error) {
	web, _, err := gitHubWebBase(s.req.APIBase)
	if err != nil {
		return "", err
	}
	cfg := oauth2.Config{
		ClientID:           s.install.clientID,
		ClientSecret:       s.install.clientSecret,
		TokenURI:           web + "/login/oauth/access_token",
		ClientAuthLocation: "body",
		SkipPKCE:           true,
		Now:                e.now,
	}
	tok, err := cfg.Exchange(ctx, hc, code, "", "")
	if err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("the token response has no access_token")
	}
	return tok.AccessToken, nil
}

// checkUserInstallation requires installation id to be among the
// installations of the app that the user of userToken can access (GET
// /user/installations, page by page while GitHub links a next page, at
// most maxInstallationPages).
func (s *gitHubAppSession) checkUserInstallation(ctx context.Context, hc *http.Client, userToken, id string) error {
	base := s.req.APIBase
	if base == "" {
		base = "https://api.github.com"
	}
	base = strings.TrimSuffix(base, "/") + "/user/installations"
	for page := 1; page <= maxInstallationPages; page++ {
		ids, next, err := userInstallationsPage(ctx, hc, base, userToken, page)
		if err != nil {
			return fmt.Errorf("github-app install flow: listing the signing-in user's installations: %w", err)
		}
		for _, got := range ids {
			if got.String() == id {
				return nil
			}
		}
		if !next {
			return fmt.Errorf("github-app install flow: installation %s is not one the signing-in user can access; nothing was stored", id)
		}
	}
	return fmt.Errorf("github-app install flow: installation %s is not among the first %d installations the signing-in user can access; nothing was stored", id, maxInstallationPages*installationsPerPage)
}

// userInstallationsPage fetches one page of /user/installations: the
// installations' ids, and whether GitHub links a next page.
func userInstallationsPage(ctx context.Context, hc *http.Client, base, userToken string, page int) ([]json.Number, bool, error) {
	u := base + "?" + url.Values{"per_page": {strconv.Itoa(installationsPerPage)}, "page": {strconv.Itoa(page)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, errors.New("apiBase must be an absolute http or https URL")
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+userToken)
	resp, err := endpoint.NoRedirects(hc).Do(req)
	if err != nil {
		return nil, false, endpoint.TransportCause(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxInstallationsPage+1))
	if err != nil {
		return nil, false, endpoint.TransportCause(err)
	}
	if len(data) > maxInstallationsPage {
		return nil, false, errors.New("response too large")
	}
	var body struct {
		Installations []struct {
			ID json.Number `json:"id"`
		} `json:"installations"`
		Message string `json:"message"`
	}
	jsonErr := json.Unmarshal(data, &body)
	if resp.StatusCode != http.StatusOK {
		msg := endpoint.CleanText(endpoint.Scrub(body.Message, []string{userToken}))
		return nil, false, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if jsonErr != nil || body.Installations == nil {
		return nil, false, errors.New("the response is not an object with installations")
	}
	ids := make([]json.Number, 0, len(body.Installations))
	for _, in := range body.Installations {
		ids = append(ids, in.ID)
	}
	return ids, hasNextLink(resp.Header.Values("Link")), nil
}

// hasNextLink reports whether a Link header (RFC 8288) has rel="next".
// Only the fact is used: the next page is asked for by number on the same
// URL, so a link cannot send the user token elsewhere.
func hasNextLink(links []string) bool {
	for _, h := range links {
		for _, link := range strings.Split(h, ",") {
			for _, p := range strings.Split(link, ";")[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && slices.ContainsFunc(strings.Fields(strings.Trim(v, `"`)), isNext) {
					return true
				}
			}
		}
	}
	return false
}

func isNext(rel string) bool { return strings.EqualFold(rel, "next") }
