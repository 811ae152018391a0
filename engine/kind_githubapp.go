package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connspec/connspec/engine/jwtgrant"
	"github.com/connspec/connspec/spec"
)

// github-app (a connspec extension): the connection acts as one
// installation of a GitHub App. The app's private key signs an app JWT,
// which is exchanged for an installation access token
// (jwtgrant.ExchangeInstallationToken); the token is stored as
// credentials {token, expires_at} and renewed before its one-hour expiry
// through the engine's shared renewal. An uninstalled app (HTTP 404 on the
// exchange) makes the connection defunct instead of being retried.
//
// The installation is the config's installationId, or (a block whose
// literal config names appSlug) the one a user installs the app on through
// the install flow, verified with that user's sign-in: see
// kind_githubapp_install.go.
func init() { RegisterKind("github-app", gitHubAppKind{}) }

// gitHubAppKind is github-app: its clients' sessions, and the install flow
// for the blocks that use it.
type gitHubAppKind struct{}

// Open evaluates getGitHubAppConfig and parses the app's key.
func (gitHubAppKind) Open(ctx context.Context, cl *Client) (Session, error) {
	return openGitHubApp(ctx, cl)
}

// HasAuthorizationFlow: only a block whose literal config has appSlug is
// connected through the install flow (FlowChooser).
func (gitHubAppKind) HasAuthorizationFlow(a *spec.Auth) bool { return spec.GitHubAppInstallFlow(a) }

// gitHubAppRefreshMargin is how long before expiry an installation token
// is renewed: it lives one hour, and GitHub's clock may run ahead of ours.
const gitHubAppRefreshMargin = 5 * time.Minute

// gitHubAppKeys are the keys getGitHubAppConfig may return.
var gitHubAppKeys = spec.GitHubAppConfigKeys

// gitHubAppSession is a connection to one installation of a GitHub App.
type gitHubAppSession struct {
	BaseSession
	key   *jwtgrant.Key
	appID string
	// req's InstallationID is "" for the install flow: the stored
	// credentials' installation_id is used.
	req jwtgrant.InstallationTokenRequest
	// install is the install flow's app (nil: the config names the
	// installation).
	install *gitHubAppInstall
	// secrets are the config's values that must never be shown (the PEM
	// text), whether or not they came from connector parameters. A
	// pointer: fmt prints a struct's pointer fields as addresses.
	secrets *[]string
}

// Secrets are the config's secret values, which every state's redactor
// hides (SecretHolder).
func (s *gitHubAppSession) Secrets() []string {
	if s.secrets == nil {
		return nil
	}
	return *s.secrets
}

// redactor returns r that also hides the session's secrets, for errors
// before the client has a state.
func (s *gitHubAppSession) redactor(r *redactor) *redactor { return r.With(s.Secrets()...) }

// openGitHubApp evaluates getGitHubAppConfig and parses the app's key.
func openGitHubApp(ctx context.Context, cl *Client) (Session, error) {
	if cl.auth.Methods[spec.MethodGetGitHubAppConfig] == nil {
		return nil, fmt.Errorf("connector %s: auth type %s has no %s", cl.connector.Spec.Key, cl.auth.Spec.Type, spec.MethodGetGitHubAppConfig)
	}
	return cl.eng.gitHubAppSession(ctx, cl.auth, cl.conn)
}

// gitHubAppSession evaluates a's getGitHubAppConfig for conn and checks
// the result and its apiBase.
func (e *Engine) gitHubAppSession(ctx context.Context, a *Auth, conn Connection) (*gitHubAppSession, error) {
	raw, m, r, err := e.runConfigMethod(ctx, conn.Connector, a, conn, spec.MethodGetGitHubAppConfig)
	if err != nil {
		return nil, err
	}
	s, err := parseGitHubAppConfig(raw, spec.GitHubAppInstallFlow(a.Spec))
	if err != nil {
		return nil, redactedMethodError(m, err, s.redactor(r))
	}
	if s.req.APIBase != "" {
		if err := checkGitHubAPIBase(a, conn, s.req.APIBase); err != nil {
			return nil, redactedMethodError(m, err, s.redactor(r))
		}
	}
	return s, nil
}

// checkGitHubAPIBase applies the host rule to apiBase, strictly: it
// receives the app JWT, good for every installation of the app, and an app
// lives on one GitHub (github.com or one Enterprise server), which the
// developer knows. So connection input may help build it only into a host
// the connector writes out in full; host patterns (allowedHosts, URL
// templates) that let the user choose the API's host do not apply.
func checkGitHubAPIBase(a *Auth, conn Connection, apiBase string) error {
	strict := &hostPolicy{}
	if p := a.hosts; p != nil {
		strict.literal, strict.choices = p.literal, p.choices
	}
	input := inputValues(conn.ConnectionParameters)
	u, err := strict.checkURL("apiBase", apiBase, input, nil)
	var he *HostError
	if errors.As(err, &he) {
		return errGitHubAPIBaseFromInput(he.Input)
	}
	if err != nil || strict.literal[hostKey(u)] {
		return err
	}
	// checkURL lets input fill labels under the author's domain; here no
	// whole label of the host may be typed by the user.
	host := "." + strings.ToLower(u.Hostname()) + "."
	for _, in := range input {
		if in.value == "" || slices.Contains(strict.choices[in.field], in.value) {
			continue
		}
		if strings.Contains(host, "."+strings.ToLower(in.value)+".") {
			return errGitHubAPIBaseFromInput([]string{in.field})
		}
	}
	return nil
}

func errGitHubAPIBaseFromInput(fields []string) error {
	return fmt.Errorf("apiBase receives the GitHub App's JWT and must come from the connector or its parameters, not from connection input (%s)", strings.Join(fields, ", "))
}

// parseGitHubAppConfig reads getGitHubAppConfig's result; installFlow is
// whether the block connects through the install flow. The session it
// returns carries the secrets to redact even with an error.
func parseGitHubAppConfig(raw map[string]any, installFlow bool) (*gitHubAppSession, error) {
	s := &gitHubAppSession{}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(gitHubAppKeys, k) {
			return s, fmt.Errorf("unknown key %q in the result (allowed: %s)", k, strings.Join(gitHubAppKeys, ", "))
		}
	}
	if _, ok := raw["appSlug"]; ok && !installFlow {
		return s, errors.New("appSlug (the install flow) must be written in a literal getGitHubAppConfig mapping: whether a connection is made by installing the app must be known before any method runs")
	}
	pem, _ := raw["privateKey"].(string)
	secret, _ := raw["clientSecret"].(string)
	for _, v := range []string{pem, secret} {
		if v != "" {
			if s.secrets == nil {
				s.secrets = &[]string{}
			}
			*s.secrets = append(*s.secrets, v)
		}
	}
	var err error
	if s.appID, err = gitHubAppID(raw, "appId"); err != nil {
		return s, err
	}
	if s.appID == "" || strings.ContainsAny(s.appID, " \t\r\n") {
		return s, errors.New("appId (the GitHub App's id or client id) is required and has no spaces")
	}
	if pem == "" {
		if raw["privateKey"] != nil {
			return s, fmt.Errorf("privateKey must be a string (the app's PEM private key), not %s", describeValue(raw["privateKey"]))
		}
		return s, errors.New("privateKey (the GitHub App's PEM private key) is required")
	}
	if s.key, err = jwtgrant.ParsePrivateKey([]byte(pem), "RS256"); err != nil {
		return s, fmt.Errorf("privateKey: %w", err)
	}
	if err := s.parseInstallation(raw, installFlow); err != nil {
		return s, err
	}
	if v, ok := raw["apiBase"]; ok && v != nil {
		base, ok := v.(string)
		if !ok {
			return s, fmt.Errorf("apiBase must be a URL string, not %s", describeValue(v))
		}
		s.req.APIBase = base
	}
	if s.req.Repositories, err = gitHubAppRepositories(raw["repositories"]); err != nil {
		return s, err
	}
	if s.req.Permissions, err = gitHubAppPermissions(raw["permissions"]); err != nil {
		return s, err
	}
	return s, nil
}

// parseInstallation reads which installation the connection acts as: the
// config's installationId, or the install flow's app.
func (s *gitHubAppSession) parseInstallation(raw map[string]any, installFlow bool) error {
	if installFlow {
		var err error
		s.install, err = parseGitHubAppInstall(raw)
		return err
	}
	var err error
	if s.req.InstallationID, err = gitHubAppID(raw, "installationId"); err != nil {
		return err
	}
	if s.req.InstallationID == "" {
		return errors.New("installationId is required")
	}
	if !digitsOnly(s.req.InstallationID) {
		// It goes into the token request's path.
		return errors.New("installationId must be digits only")
	}
	return nil
}

// digitsOnly reports whether s is one or more ASCII digits.
func digitsOnly(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// gitHubAppID reads an id that may be written as a string or a number;
// "" when it is absent.
func gitHubAppID(raw map[string]any, key string) (string, error) {
	switch v := raw[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		// Beyond 2^53 a number has already lost digits: refuse, not round.
		if v < 0 || v != math.Trunc(v) || v > 1<<53 {
			return "", fmt.Errorf("%s must be a whole number (or a string of digits)", key)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("%s must be a string or a number, not %s", key, describeValue(v))
	}
}

// gitHubAppRepositories reads repositories: a list of repository names.
func gitHubAppRepositories(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("repositories must be a list of repository names, not %s", describeValue(v))
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		name, ok := item.(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("repositories[%d] must be a repository name", i)
		}
		out = append(out, name)
	}
	return out, nil
}

// gitHubAppPermissions reads permissions: permission name to access level.
func gitHubAppPermissions(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("permissions must be an object (permission: read | write | admin), not %s", describeValue(v))
	}
	out := make(map[string]string, len(m))
	for k, level := range m {
		s, ok := level.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("permissions.%s must be an access level such as read or write", k)
		}
		out[k] = s
	}
	return out, nil
}

// Start: the installation token is fetched on first use, like a renewal,
// so that concurrent first requests share one exchange. With the install
// flow the installation comes from it (or the connector's
// getCredentialsFromConnectionParameters).
func (s *gitHubAppSession) Start(ctx context.Context, cl *Client) (map[string]any, bool, error) {
	if s.install != nil {
		return cl.credentialsFromInput(ctx, false)
	}
	return map[string]any{}, false, nil
}

// installationID is the installation creds are for: the config's, else
// the install flow's, stored in the credentials.
func (s *gitHubAppSession) installationID(creds map[string]any) (string, error) {
	if s.req.InstallationID != "" {
		return s.req.InstallationID, nil
	}
	id, _ := creds["installation_id"].(string)
	if !digitsOnly(id) {
		return "", errors.New("github-app: the credentials have no installation_id (digits): connect through the install flow again")
	}
	return id, nil
}

// CanRenew: a new installation token can always be minted.
func (s *gitHubAppSession) CanRenew(map[string]any) bool { return true }

// Renew signs an app JWT and exchanges it for a new installation token.
func (s *gitHubAppSession) Renew(ctx context.Context, cl *Client, cur *clientState) (map[string]any, error) {
	id, err := s.installationID(cur.credentials)
	if err != nil {
		return nil, err
	}
	return s.mint(ctx, cl.eng, cl.tokenHTTPClient(), id, cur.redact) // cur.redact holds Secrets (SecretHolder)
}

// mint signs an app JWT and exchanges it for a token of installation id:
// credentials {token, expires_at}, and installation_id with the install
// flow.
func (s *gitHubAppSession) mint(ctx context.Context, e *Engine, hc *http.Client, id string, r *redactor) (map[string]any, error) {
	appJWT, err := jwtgrant.GitHubAppJWT(s.key, s.appID, e.now())
	if err != nil {
		return nil, redactError(err, r)
	}
	req := s.req
	req.InstallationID = id
	tok, err := jwtgrant.ExchangeInstallationToken(ctx, hc, appJWT, req)
	if errors.Is(err, jwtgrant.ErrInstallationNotFound) {
		return nil, &ConnectionError{
			Key:     KeyConnectionIsDefunct,
			Message: fmt.Sprintf("GitHub App installation %s was not found (the app was uninstalled, or the installation id is wrong): set the connection up again", id),
			Status:  http.StatusNotFound,
			Err:     redactError(err, r.With(appJWT)),
		}
	}
	if err != nil {
		return nil, redactError(fmt.Errorf("github-app installation %s: %w", id, err), r.With(appJWT))
	}
	creds := map[string]any{"token": tok.Token, "expires_at": formatExpiresAt(tok.ExpiresAt)}
	if s.install != nil {
		creds["installation_id"] = id
	}
	return creds, nil
}

// Ready reports whether there is an installation token to send.
func (s *gitHubAppSession) Ready(creds map[string]any) bool {
	tok, _ := creds["token"].(string)
	return tok != ""
}

// RefreshMargin is gitHubAppRefreshMargin.
func (s *gitHubAppSession) RefreshMargin() time.Duration { return gitHubAppRefreshMargin }
