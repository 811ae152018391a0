package server_test

import (
	"encoding/json"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/internal/oauthtest"
)

// connectLink asks the admin API for a connect link.
func (e *env) connectLink(body map[string]any) string {
	e.t.Helper()
	status, data := e.api("POST", "/v1/connect-sessions", body)
	if status != http.StatusCreated {
		e.t.Fatalf("connect session: %d %s", status, data)
	}
	var out struct{ URL string }
	json.Unmarshal(data, &out)
	return out.URL
}

// browserLike is an HTTP client with cookies that does not follow redirects,
// so each step of a connect flow can be checked.
func browserLike(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// fetch sends one request as a browser would. A POST without a form_token
// first loads the page, as a person does, and submits the token it holds.
func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "POST" {
		if _, ok := form["form_token"]; !ok {
			_, page := fetch(t, c, "GET", u, nil)
			form = maps.Clone(form)
			if form == nil {
				form = url.Values{}
			}
			form.Set("form_token", formTokenOf(page))
		}
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// formTokenOf is the form_token field of a connect page ("" when none).
func formTokenOf(page string) string {
	m := regexp.MustCompile(`name="form_token" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestConnectPageFormAndServerSideValidation(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	link := e.connectLink(map[string]any{"connector": "keyed", "account": "acc-9"})
	c := browserLike(t)

	resp, page := fetch(t, c, "GET", link, nil)
	for _, want := range []string{"Connect Keyed API", `name="f_apiKey"`, `type="password"`, "required", "API key", "Starts with key-", `<option value="eu" selected>eu</option>`, "https://example.com/help"} {
		if !strings.Contains(page, want) {
			t.Errorf("the form lacks %q", want)
		}
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("the page lacks its security headers: %v", resp.Header)
	}

	// A key the API refuses: the form comes back with the reason, without the key.
	resp, page = fetch(t, c, "POST", link, url.Values{"f_apiKey": {canaryAPIKey + "-wrong"}, "f_region": {"us"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Connecting failed") || !strings.Contains(page, `<option value="us" selected>`) {
		t.Fatalf("refused key: %d\n%s", resp.StatusCode, page)
	}
	texts := []string{page}
	// A value of the wrong kind for the schema: a server-side message.
	resp, page = fetch(t, c, "POST", link, url.Values{"f_apiKey": {canaryAPIKey}, "f_region": {"mars"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "field-error") {
		t.Fatalf("bad region: %d\n%s", resp.StatusCode, page)
	}
	texts = append(texts, page)

	resp, page = fetch(t, c, "POST", link, url.Values{"f_apiKey": {canaryAPIKey}, "f_region": {"eu"}})
	if resp.StatusCode != 200 || !strings.Contains(page, `data-status="connected"`) {
		t.Fatalf("good key: %d\n%s", resp.StatusCode, page)
	}
	infos, _ := e.Store.ListConnections(t.Context(), "acc-9")
	if len(infos) != 1 || infos[0].Input["region"] != "eu" {
		t.Fatalf("stored: %+v", infos)
	}
	e.assertNoCanaries(append(texts, page)...)
}

func TestConnectLinksAreSealedAndExpire(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	link := e.connectLink(map[string]any{"connector": "keyed", "account": "acc"})
	c := browserLike(t)

	tampered := link[:len(link)-3] + "AAA"
	if resp, _ := fetch(t, c, "GET", tampered, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a tampered link: %d", resp.StatusCode)
	}
	// A link sealed by a server with another key does not open here.
	other := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	foreign := other.connectLink(map[string]any{"connector": "keyed", "account": "acc"})
	if resp, _ := fetch(t, c, "GET", e.URL+foreign[len(other.URL):], nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a link of another key: %d", resp.StatusCode)
	}

	short := newEnvWithTTL(t, api.URL, time.Second)
	link = short.connectLink(map[string]any{"connector": "keyed", "account": "acc"})
	time.Sleep(2100 * time.Millisecond)
	resp, page := fetch(t, c, "GET", link, nil)
	if resp.StatusCode != http.StatusGone || !strings.Contains(page, "expired") {
		t.Errorf("an expired link: %d %s", resp.StatusCode, page)
	}
	if status, body := e.api("POST", "/v1/connect-sessions", map[string]any{"connector": "keyed", "redirectUrl": "javascript:alert(1)"}); status != 400 {
		t.Errorf("a javascript: redirect was accepted: %d %s", status, body)
	}
}

// newEnvWithTTL is a server whose connect links last ttl.
func newEnvWithTTL(t *testing.T, apiURL string, ttl time.Duration) *env {
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(apiURL)}, sessionTTL: ttl})
	return e
}

func TestOAuthConnectThroughTheCallback(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret, RequirePKCE: true})
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": oauthConnector(srv)}, params: oauthParams})
	link := e.connectLink(map[string]any{"connector": "oauthy", "account": "acc-o", "redirectUrl": "https://app.example/done"})
	c := browserLike(t)

	_, page := fetch(t, c, "GET", link, nil)
	if !strings.Contains(page, "Continue to OAuthy") {
		t.Fatalf("no OAuth button:\n%s", page)
	}
	resp, _ := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), srv.AuthorizeURL) {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	cb := srv.Authorize(t, resp.Header.Get("Location"))

	// The callback without the flow's cookie (another browser) is refused.
	resp, page = fetch(t, browserLike(t), "GET", cb.String(), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "another browser") {
		t.Errorf("a callback without the cookie: %d", resp.StatusCode)
	}
	resp, _ = fetch(t, c, "GET", cb.String(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "app.example" || loc.Query().Get("status") != "connected" {
		t.Fatalf("callback: %d %s", resp.StatusCode, loc)
	}
	id := loc.Query().Get("connection")
	status, body := e.api("GET", "/v1/connections/"+id, nil)
	if status != 200 || !strings.Contains(string(body), `"state": "connected"`) {
		t.Fatalf("the connection: %d %s", status, body)
	}
	// Replaying the callback does not work twice: the cookie is gone.
	if resp, _ = fetch(t, c, "GET", cb.String(), nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a replayed callback: %d", resp.StatusCode)
	}
	// And the proxy works with the new connection.
	pr := e.proxy("GET", id, "api/me", nil, nil)
	if b := readAll(t, pr); pr.StatusCode != 200 || !strings.Contains(b, oauthtest.UserID) {
		t.Errorf("proxy: %d %s", pr.StatusCode, b)
	}
	e.assertNoCanaries(page, string(body))
}

func TestOAuth1ConnectThroughTheCallback(t *testing.T) {
	srv := oauthtest.NewOAuth1(t)
	connector := strings.ReplaceAll(`key: tello
name: Tello
auth:
  type: oauth1
  getOAuthConfig:
    mapping:
      consumerKey: {$var: connectorParameters.key}
      consumerSecret: {$var: connectorParameters.secret}
      requestTokenUri: {{URL}}/request_token
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/access_token
  makeApiClient:
    mapping: {baseUri: "{{URL}}/1"}
`, "{{URL}}", srv.URL)
	e := newEnv(t, envOptions{connectors: map[string]string{"tello": connector},
		params: map[string]map[string]any{"tello": {"key": oauthtest.OAuth1ConsumerKey, "secret": oauthtest.OAuth1ConsumerSecret}}})
	link := e.connectLink(map[string]any{"connector": "tello", "account": "acc-1"})
	c := browserLike(t)
	resp, _ := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), srv.URL+"/authorize") {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The provider approves and sends the browser back to serve's callback.
	resp, _ = fetch(t, c, "GET", resp.Header.Get("Location"), nil)
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, e.URL+"/oauth/callback?") {
		t.Fatalf("the provider sent the browser to %q", back)
	}
	resp, page := fetch(t, c, "GET", back, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `data-status="connected"`) {
		t.Fatalf("callback: %d\n%s", resp.StatusCode, page)
	}
	infos, _ := e.Store.ListConnections(t.Context(), "acc-1")
	if len(infos) != 1 {
		t.Fatalf("connections: %+v", infos)
	}
	// Requests through the proxy are signed with the access token.
	pr := e.proxy("GET", infos[0].ID, "members/me", nil, nil)
	if b := readAll(t, pr); pr.StatusCode != 200 || !strings.Contains(b, `"/1/members/me"`) {
		t.Errorf("proxy: %d %s", pr.StatusCode, b)
	}
	if srv.Verified() != 3 {
		t.Errorf("%d signed requests verified, want 3 (request token, access token, proxied GET)", srv.Verified())
	}
}

// A connector whose OAuth endpoints and API name the real provider runs
// unchanged against a local mock with --connect-to: the browser is sent to
// the mock's authorize page, the code exchange and the proxied request go
// to the mock too (issue 13, testing against a provider without editing
// the connector).
func TestOAuthConnectThroughConnectTo(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret, RequirePKCE: true})
	mock, _ := url.Parse(srv.URL)
	real := strings.NewReplacer(srv.AuthorizeURL, "https://login.provider.test"+strings.TrimPrefix(srv.AuthorizeURL, srv.URL),
		srv.TokenURL, "https://login.provider.test"+strings.TrimPrefix(srv.TokenURL, srv.URL),
		"baseUri: "+srv.URL, "baseUri: https://api.provider.test").Replace(oauthConnector(srv))
	if strings.Contains(real, mock.Host) {
		t.Fatalf("the connector still names the mock:\n%s", real)
	}
	var rules []engine.ConnectTo
	for _, host := range []string{"login.provider.test", "api.provider.test"} {
		r, err := engine.ParseConnectTo(host+"="+srv.URL, false)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": real}, params: oauthParams, connectTo: rules})
	link := e.connectLink(map[string]any{"connector": "oauthy", "account": "acc-c", "redirectUrl": "https://app.example/done"})
	c := browserLike(t)
	fetch(t, c, "GET", link, nil)
	resp, _ := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), srv.AuthorizeURL) {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	cb := srv.Authorize(t, resp.Header.Get("Location"))
	resp, _ = fetch(t, c, "GET", cb.String(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("status") != "connected" {
		t.Fatalf("callback: %d %s", resp.StatusCode, loc)
	}
	pr := e.proxy("GET", loc.Query().Get("connection"), "api/me", nil, nil)
	if b := readAll(t, pr); pr.StatusCode != 200 || !strings.Contains(b, oauthtest.UserID) {
		t.Errorf("proxy: %d %s", pr.StatusCode, b)
	}
}
