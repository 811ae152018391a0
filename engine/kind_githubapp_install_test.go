package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
)

const (
	ghClientID     = "Iv1.install-client"
	ghClientSecret = "canary-gh-client-secret-5e1f"
	ghUserToken    = "ghu_canary_user_token_77aa"
)

// fakeInstall adds GitHub's install flow to fakeGitHub: the install page
// (which sends the browser back with installation_id, a one-time code and
// the state), the OAuth token endpoint (client id and secret checked, the
// code spent), and /user/installations for the user token, two per page
// with a Link to the next. Its error answers echo what they received, as a
// careless server might, to show that nothing secret comes back out.
type fakeInstall struct {
	*fakeGitHub
	mu sync.Mutex
	// installAs is the installation_id the install page returns; noCode
	// leaves the code out (user authorization during install disabled).
	installAs string
	noCode    bool
	codes     map[string]bool
	// userInstallations are the ids /user/installations lists;
	// alwaysNext links a next page forever.
	userInstallations []string
	alwaysNext        bool
	tokenRequests     atomic.Int64
	pageRequests      atomic.Int64
}

func newFakeInstall(t *testing.T, now func() time.Time) *fakeInstall {
	f := &fakeInstall{fakeGitHub: newFakeGitHub(t, now), codes: map[string]bool{}}
	f.mux.HandleFunc("GET /github-apps/{slug}/installations/new", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("slug") != "octo-app" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		q := url.Values{"installation_id": {f.installAs}, "setup_action": {"install"}, "state": {r.URL.Query().Get("state")}}
		if !f.noCode {
			code := fmt.Sprintf("code-canary-%d", len(f.codes))
			f.codes[code] = true
			q.Set("code", code)
		}
		http.Redirect(w, r, "https://app.example/callback?"+q.Encode(), http.StatusFound)
	})
	f.mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		f.tokenRequests.Add(1)
		r.ParseForm()
		f.mu.Lock()
		ok := r.Form.Get("client_id") == ghClientID && r.Form.Get("client_secret") == ghClientSecret && f.codes[r.Form.Get("code")]
		delete(f.codes, r.Form.Get("code"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || r.Header.Get("Accept") != "application/json" {
			// GitHub answers 200 with an error object.
			json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired: " + r.Form.Encode()})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"access_token": ghUserToken, "token_type": "bearer", "scope": ""})
	})
	f.mux.HandleFunc("GET /gh/user/installations", func(w http.ResponseWriter, r *http.Request) {
		f.pageRequests.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+ghUserToken {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"message": "Bad credentials: " + r.Header.Get("Authorization")})
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		f.mu.Lock()
		all, alwaysNext := f.userInstallations, f.alwaysNext
		f.mu.Unlock()
		var items []map[string]any
		for i := (page - 1) * 2; i >= 0 && i < len(all) && i < page*2; i++ {
			n, _ := strconv.Atoi(all[i])
			items = append(items, map[string]any{"id": n, "app_slug": "octo-app"})
		}
		if items == nil {
			items = []map[string]any{}
		}
		if alwaysNext || page*2 < len(all) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/gh/user/installations?page=%d>; rel="next"`, f.URL, page+1))
		}
		json.NewEncoder(w).Encode(map[string]any{"total_count": len(all), "installations": items})
	})
	return f
}

// installConnector is a github-app connector whose connections are made
// by installing the app (appSlug), on the fake's "Enterprise server".
func installConnector(f *fakeInstall) string {
	return strings.ReplaceAll(`name: GH
key: c
auth:
  type: github-app
  getGitHubAppConfig:
    mapping:
      appId: {$var: connectorParameters.appId}
      privateKey: {$var: connectorParameters.privateKey}
      appSlug: octo-app
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      apiBase: {{URL}}/gh
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}
`, "{{URL}}", f.URL)
}

func installConn(id string) Connection {
	_, pemText := gitHubAppKey(nil)
	return Connection{ID: id, Connector: "c", ConnectorParameters: map[string]any{
		"appId": ghAppID, "privateKey": pemText, "clientId": ghClientID, "clientSecret": ghClientSecret}}
}

// install starts the flow and follows the install page the way a browser
// does, returning the callback's query and the flow's state.
func install(t *testing.T, e *Engine, f *fakeInstall, conn Connection) (url.Values, string) {
	t.Helper()
	req, err := e.AuthorizationURL(context.Background(), conn, "https://app.example/callback")
	if err != nil {
		t.Fatal(err)
	}
	if want := f.URL + "/github-apps/octo-app/installations/new?state=" + url.QueryEscape(req.State); req.URL != want {
		t.Fatalf("install URL %q, want %q", req.URL, want)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("install page: %d %v", resp.StatusCode, err)
	}
	return loc.Query(), req.State
}

// TestGitHubAppInstallFlowEndToEnd: the install page's redirect carries the
// installation; the code proves the installer can access it (found on the
// third page of /user/installations); the credentials are the installation
// and its token, stored; the client uses them, and renews for the stored
// installation.
func TestGitHubAppInstallFlowEndToEnd(t *testing.T) {
	var clock *fakeClock
	f := newFakeInstall(t, func() time.Time { return clock.Now() })
	f.installAs, f.userInstallations = "77", []string{"11", "12", "13", "14", "77"}
	e := newEngine(t, nil, installConnector(f))
	clock = withClock(e)
	conn := installConn("gh-install")
	if a, _ := authOf(t, e); !HasAuthorizationFlow(a.Spec) {
		t.Error("an appSlug block has no authorization flow")
	}
	cb, state := install(t, e, f, conn)
	creds, err := e.CompleteAuthorization(context.Background(), conn, cb, "https://app.example/callback", state, "")
	if err != nil {
		t.Fatal(err)
	}
	if creds["installation_id"] != "77" || creds["token"] != f.token() || !strings.HasPrefix(f.token(), "ghs_inst77_") || len(creds) != 3 {
		t.Fatalf("credentials %v, want {installation_id 77, token, expires_at}", creds)
	}
	if n := f.pageRequests.Load(); n != 3 {
		t.Errorf("%d pages of /user/installations read, want 3 (77 is on the third)", n)
	}
	rec, err := e.store.Get(context.Background(), "gh-install")
	if err != nil || rec.Credentials["installation_id"] != "77" || rec.Credentials["token"] != f.token() {
		t.Fatalf("stored %v (%v)", rec.Credentials, err)
	}
	cl := mustClient(t, e, Connection{ID: "gh-install", Connector: "c", ConnectorParameters: conn.ConnectorParameters})
	get(t, cl, "/x")
	clock.Advance(56 * time.Minute)
	get(t, cl, "/y")
	if n := f.exchanges.Load(); n != 2 || !strings.HasPrefix(f.token(), "ghs_inst77_") {
		t.Errorf("%d exchanges, token %q: want a renewal for installation 77", n, f.token())
	}
	if got := cl.Credentials()["installation_id"]; got != "77" {
		t.Errorf("the renewal dropped the installation: %v", cl.Credentials())
	}
}

// TestGitHubAppInstallSpoofedInstallationRefused: an installation_id the
// signing-in user cannot access (a forged callback, or another account's
// installation of the same app) is refused and nothing is stored, though
// GitHub would mint a token for it.
func TestGitHubAppInstallSpoofedInstallationRefused(t *testing.T) {
	f := newFakeInstall(t, time.Now)
	f.userInstallations = []string{"11", "77"}
	e := newEngine(t, nil, installConnector(f))
	for name, c := range map[string]struct {
		installAs string
		edit      func(url.Values)
	}{
		"install page names another": {"999", func(url.Values) {}},
		"callback edited":            {"77", func(q url.Values) { q.Set("installation_id", "999") }},
		"leading zeros":              {"77", func(q url.Values) { q.Set("installation_id", "0999") }},
	} {
		t.Run(name, func(t *testing.T) {
			f.installAs = c.installAs
			conn := installConn("gh-spoof")
			cb, state := install(t, e, f, conn)
			c.edit(cb)
			_, err := e.CompleteAuthorization(context.Background(), conn, cb, "", state, "")
			if err == nil || !strings.Contains(err.Error(), "installation 999 is not one the signing-in user can access") {
				t.Fatalf("err = %v, want the installation refused", err)
			}
			if rec, err := e.store.Get(context.Background(), "gh-spoof"); err == nil && rec.Credentials != nil {
				t.Errorf("stored %v for a refused installation", rec.Credentials)
			}
		})
	}
	if n := f.exchanges.Load(); n != 0 {
		t.Errorf("%d installation tokens minted for refused installations", n)
	}
}

// TestGitHubAppInstallCallbackRefusals: a callback without a code (the app
// does not request user authorization during installation), with another
// state, or with an installation_id that is not a number is refused before
// any request, each with its reason.
func TestGitHubAppInstallCallbackRefusals(t *testing.T) {
	f := newFakeInstall(t, time.Now)
	f.installAs, f.userInstallations = "77", []string{"77"}
	e := newEngine(t, nil, installConnector(f))
	conn := installConn("gh-cb")
	complete := func(edit func(url.Values), stateOf func(string) string) error {
		cb, state := install(t, e, f, conn)
		edit(cb)
		_, err := e.CompleteAuthorization(context.Background(), conn, cb, "", stateOf(state), "")
		return err
	}
	same := func(s string) string { return s }
	f.noCode = true
	err := complete(func(url.Values) {}, same)
	if err == nil || !strings.Contains(err.Error(), `enable "Request user authorization (OAuth) during installation"`) {
		t.Errorf("no code: %v", err)
	}
	f.noCode = false
	for _, stateOf := range []func(string) string{func(string) string { return "other" }, func(string) string { return "" }} {
		if err := complete(func(url.Values) {}, stateOf); !errors.Is(err, oauth2.ErrStateMismatch) {
			t.Errorf("state mismatch: %v", err)
		}
	}
	if err := complete(func(q url.Values) { q.Del("state") }, same); !errors.Is(err, oauth2.ErrStateMismatch) {
		t.Errorf("no state in the callback: %v", err)
	}
	for _, bad := range []string{"", "7/../1", "-7", "7 ", "0x4d", "99999999999999999999999"} {
		err := complete(func(q url.Values) { q.Set("installation_id", bad) }, same)
		if err == nil || !strings.Contains(err.Error(), "installation_id") {
			t.Errorf("installation_id %q: %v", bad, err)
		}
	}
	if n := f.tokenRequests.Load() + f.pageRequests.Load() + f.exchanges.Load(); n != 0 {
		t.Errorf("%d requests for refused callbacks", n)
	}
	if rec, err := e.store.Get(context.Background(), "gh-cb"); err == nil && rec.Credentials != nil {
		t.Errorf("stored %v", rec.Credentials)
	}
}

// TestGitHubAppInstallPagesAreBounded: a /user/installations that always
// links a next page is read maxInstallationPages times, then refused.
func TestGitHubAppInstallPagesAreBounded(t *testing.T) {
	f := newFakeInstall(t, time.Now)
	f.installAs, f.alwaysNext = "77", true
	f.userInstallations = []string{"1", "2", "3"}
	e := newEngine(t, nil, installConnector(f))
	conn := installConn("gh-pages")
	cb, state := install(t, e, f, conn)
	_, err := e.CompleteAuthorization(context.Background(), conn, cb, "", state, "")
	if err == nil || !strings.Contains(err.Error(), "installation 77 is not among the first") {
		t.Fatalf("err = %v", err)
	}
	if n := f.pageRequests.Load(); n != maxInstallationPages {
		t.Errorf("%d pages read, want %d", n, maxInstallationPages)
	}
}

// TestGitHubAppInstallSecretsNeverShown: the client secret, the code, the
// user token and the private key stay out of errors and logs, also when
// GitHub's error answers echo them.
func TestGitHubAppInstallSecretsNeverShown(t *testing.T) {
	f := newFakeInstall(t, time.Now)
	f.installAs, f.userInstallations = "77", []string{"11"}
	var logs bytes.Buffer
	e := newEngine(t, nil, installConnector(f), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	_, pemText := gitHubAppKey(t)
	var errs []string
	var codes []string
	run := func(conn Connection, edit func(url.Values)) {
		cb, state := install(t, e, f, conn)
		codes = append(codes, cb.Get("code"))
		edit(cb)
		_, err := e.CompleteAuthorization(context.Background(), conn, cb, "", state, "")
		if err == nil {
			t.Fatal("want an error")
		}
		errs = append(errs, err.Error())
	}
	// The token endpoint refuses a code (and echoes the request).
	run(installConn("s1"), func(q url.Values) { q.Set("code", q.Get("code")+"-wrong") })
	// The token endpoint refuses the client (echoing the secret it got).
	wrong := installConn("s2")
	wrong.ConnectorParameters["clientSecret"] = ghClientSecret + "-old"
	run(wrong, func(url.Values) {})
	// The installation is not the user's.
	run(installConn("s3"), func(url.Values) {})
	if !strings.Contains(errs[0], "bad_verification_code") || !strings.Contains(errs[2], "not one the signing-in user can access") {
		t.Errorf("errors do not say what failed: %q", errs)
	}
	out := strings.Join(errs, "\n") + logs.String()
	for _, secret := range append([]string{ghClientSecret, ghUserToken, pemCanary(pemText)}, codes...) {
		if strings.Contains(out, secret) {
			t.Errorf("%q is shown:\n%s", secret, out)
		}
	}
	// The user token rejected by /user/installations, which echoes it.
	f.mux.HandleFunc("GET /gh2/user/installations", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Bad credentials: `+r.Header.Get("Authorization")+`"}`)
	})
	f.mux.HandleFunc("POST /gh2/app/installations/{id}/access_tokens", func(w http.ResponseWriter, r *http.Request) { t.Error("minted after a failed check") })
	e2 := newEngine(t, nil, strings.Replace(installConnector(f), "/gh\n", "/gh2\n", 1))
	cb, state := install(t, e2, f, installConn("s4"))
	_, err := e2.CompleteAuthorization(context.Background(), installConn("s4"), cb, "", state, "")
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), ghUserToken) || strings.Contains(err.Error(), cb.Get("code")) {
		t.Errorf("err = %v, want HTTP 401 without the user token", err)
	}
}

// TestGitHubAppInstallFlowIsStatic: whether a block is connected by
// installing the app is read from its literal config: a computed config
// that returns appSlug is refused by name, and its block has no flow; a
// literal block without a completed install has no credentials.
func TestGitHubAppInstallFlowIsStatic(t *testing.T) {
	f := newFakeInstall(t, time.Now)
	js := strings.ReplaceAll(`name: GH
key: c
auth:
  type: github-app
  getGitHubAppConfig:
    implementationType: javascript
    code: |
      export default ({ connectorParameters: p }) => ({ appId: p.appId, privateKey: p.privateKey, appSlug: "octo-app", clientId: p.clientId, clientSecret: p.clientSecret, apiBase: "{{URL}}/gh" })
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
`, "{{URL}}", f.URL)
	e := newEngine(t, nil, js)
	if a, _ := authOf(t, e); HasAuthorizationFlow(a.Spec) {
		t.Error("a computed appSlug gives the block a flow")
	}
	_, err := e.Client(context.Background(), installConn(""))
	if err == nil || !strings.Contains(err.Error(), "appSlug (the install flow) must be written in a literal getGitHubAppConfig mapping") {
		t.Errorf("client: %v", err)
	}
	if _, err := e.AuthorizationURL(context.Background(), installConn(""), ""); err == nil || !strings.Contains(err.Error(), "has no authorization flow") {
		t.Errorf("AuthorizationURL: %v", err)
	}
	// An installationId block keeps its form; a literal appSlug block needs the flow.
	old := newEngine(t, nil, gitHubAppConnector(f.Server, ""))
	if a, _ := authOf(t, old); HasAuthorizationFlow(a.Spec) {
		t.Error("an installationId block has a flow")
	}
	_, err = newEngine(t, nil, installConnector(f)).Client(context.Background(), installConn(""))
	if !errors.Is(err, ErrAuthorizationRequired) {
		t.Errorf("an install-flow client without an install: %v", err)
	}
	if slices.Contains([]int64{f.exchanges.Load(), f.tokenRequests.Load()}, 1) {
		t.Error("requests were sent")
	}
}

// authOf is the base auth block of e's connector c.
func authOf(t *testing.T, e *Engine) (*Auth, error) {
	c, ok := e.Connector("c")
	if !ok {
		t.Fatal("no connector c")
	}
	return c.auth("")
}
