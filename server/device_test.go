package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	canaryDeviceCode = "canary-devicecode-9e41c7"
	canaryDeviceAT   = "canary-device-access-3b1f0a"
	canaryDeviceRT   = "canary-device-refresh-c55e12"
)

// deviceProvider is the server side of RFC 8628, written for these tests:
// /device hands out the device code (client authenticated with HTTP Basic),
// /token answers polls from script (the last entry repeats; "ok" issues the
// token), counting polls sooner than the interval, and /api/me wants the
// issued token.
type deviceProvider struct {
	*httptest.Server
	mu        sync.Mutex
	script    []string
	expiresIn int
	interval  time.Duration
	polls     int
	early     int
	last      time.Time
}

func newDeviceProvider(t *testing.T, expiresIn int, script ...string) *deviceProvider {
	p := &deviceProvider{script: script, expiresIn: expiresIn, interval: time.Second}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/device":
			if id, secret, _ := r.BasicAuth(); id != "client-1" || secret != canaryClientSecret || r.Method != "POST" {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			fmt.Fprintf(w, `{"device_code":%q,"user_code":"WDJB-MJHT","verification_uri":"%s/activate","verification_uri_complete":"%s/activate?user_code=WDJB-MJHT","expires_in":%d,"interval":1}`,
				canaryDeviceCode, p.URL, p.URL, p.expiresIn)
		case "/token":
			if id, secret, _ := r.BasicAuth(); id != "client-1" || secret != canaryClientSecret {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" || r.PostForm.Get("device_code") != canaryDeviceCode {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			now := time.Now()
			if p.polls > 0 && now.Sub(p.last) < p.interval-100*time.Millisecond {
				p.early++
			}
			p.last = now
			step := p.script[min(p.polls, len(p.script)-1)]
			p.polls++
			switch step {
			case "ok":
				fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"refresh_token":%q}`, canaryDeviceAT, canaryDeviceRT)
				return
			case "slow_down":
				p.interval += 5 * time.Second
			}
			w.WriteHeader(400)
			// The description echoes the device code: it must not reach a page.
			fmt.Fprintf(w, `{"error":%q,"error_description":"for %s"}`, step, r.PostForm.Get("device_code"))
		case "/api/me":
			if r.Header.Get("Authorization") != "Bearer "+canaryDeviceAT {
				w.WriteHeader(401)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"user": "device-user"})
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *deviceProvider) counts() (polls, early int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polls, p.early
}

// deviceConnector offers only the device flow: deviceAuthorizationUri and
// no authorizeUri. extra is added to getOAuthConfig's mapping.
func deviceConnector(p *deviceProvider, extra string) string {
	return strings.NewReplacer("{{URL}}", p.URL, "{{EXTRA}}", extra).Replace(`key: tv
name: Devicey
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      clientAuthLocation: headers
      deviceAuthorizationUri: {{URL}}/device
      tokenUri: {{URL}}/token{{EXTRA}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
  test:
    implementationType: rest-api-mapping
    mapping: {path: /api/me, method: GET}
`)
}

var deviceParams = map[string]map[string]any{"tv": {"clientId": "client-1", "clientSecret": canaryClientSecret}}

// startDeviceConnect opens a connect link of the device connector, submits
// it and returns the status page's URL and its first answer.
func startDeviceConnect(t *testing.T, e *env, c *http.Client, session map[string]any) (string, *http.Response, string) {
	t.Helper()
	link := e.connectLink(session)
	resp, page := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("submit: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	base, _ := url.Parse(link)
	status, err := base.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(status.Path, base.Path+"/device/") {
		t.Fatalf("the submit leads to %q, not the device status page", resp.Header.Get("Location"))
	}
	resp, page = fetch(t, c, "GET", status.String(), nil)
	return status.String(), resp, page
}

// awaitDevice reloads the status page, as its refresh does, until it stops
// saying pending.
func awaitDevice(t *testing.T, c *http.Client, status string) (*http.Response, string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		resp, page := fetch(t, c, "GET", status, nil)
		if !strings.Contains(page, `data-status="pending"`) {
			return resp, page
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device flow is still pending:\n%s", page)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// assertNoDeviceSecrets fails when a device code, token or client secret
// is in texts or the server's logs.
func (e *env) assertNoDeviceSecrets(texts ...string) {
	e.t.Helper()
	e.assertNoCanaries(texts...)
	all := append(texts, e.logs.String())
	for _, c := range []string{canaryDeviceCode, canaryDeviceAT, canaryDeviceRT, canaryClientSecret} {
		for i, s := range all {
			if strings.Contains(s, c) {
				e.t.Errorf("canary %q leaked in text %d: %.300s", c, i, s)
			}
		}
	}
}

func TestConnectPageDeviceFlowEndToEnd(t *testing.T) {
	t.Parallel()
	p := newDeviceProvider(t, 600, "authorization_pending", "slow_down", "ok")
	e := newEnv(t, envOptions{connectors: map[string]string{"tv": deviceConnector(p, "")}, params: deviceParams})
	c := browserLike(t)
	status, resp, page := startDeviceConnect(t, e, c, map[string]any{"connector": "tv", "account": "acc-d", "redirectUrl": "https://app.example/done"})
	texts := []string{page, status}
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("status page: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{`data-status="pending"`, `id="user-code">WDJB-MJHT<`, `href="` + p.URL + `/activate"`,
		`href="` + p.URL + `/activate?user_code=WDJB-MJHT"`, `<svg`, `id="device-qr"`, `<meta http-equiv="refresh" content="3">`, "Connect Devicey"} {
		if !strings.Contains(page, want) {
			t.Errorf("the device page lacks %q", want)
		}
	}
	// Another browser does not get the code nor the outcome.
	resp, other := fetch(t, browserLike(t), "GET", status, nil)
	if resp.StatusCode != http.StatusForbidden || strings.Contains(other, "WDJB-MJHT") {
		t.Errorf("another browser: %d\n%s", resp.StatusCode, other)
	}
	texts = append(texts, other)

	resp, page = awaitDevice(t, c, status)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "app.example" || loc.Query().Get("status") != "connected" {
		t.Fatalf("outcome: %d %s\n%s", resp.StatusCode, loc, page)
	}
	texts = append(texts, page, loc.String())
	id := loc.Query().Get("connection")
	st, body := e.api("GET", "/v1/connections/"+id, nil)
	if st != 200 || !strings.Contains(string(body), `"state": "connected"`) || !strings.Contains(string(body), `"account": "acc-d"`) {
		t.Fatalf("the connection: %d %s", st, body)
	}
	texts = append(texts, string(body))
	st, body = e.api("GET", "/v1/proxy/"+id+"/api/me", nil)
	if st != 200 || !strings.Contains(string(body), "device-user") {
		t.Fatalf("proxy with the device flow's token: %d %s", st, body)
	}
	if polls, early := p.counts(); polls != 3 || early != 0 {
		t.Errorf("token endpoint: %d polls, %d sooner than the interval (slow_down not honoured?)", polls, early)
	}
	// The link produced its connection.
	if resp, _ := fetch(t, c, "GET", strings.Split(status, "/device/")[0], nil); resp.StatusCode != http.StatusGone {
		t.Errorf("the used link: %d", resp.StatusCode)
	}
	e.assertNoDeviceSecrets(texts...)
}

func TestConnectPageDeviceFlowDeniedAndExpired(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		expiresIn int
		script    []string
		status    int
		want      string
	}{
		{"access_denied", 600, []string{"authorization_pending", "access_denied"}, http.StatusForbidden, "declined"},
		{"expired", 2, []string{"authorization_pending"}, http.StatusGone, "expired"},
		{"expired_token", 600, []string{"expired_token"}, http.StatusGone, "expired"},
		// Another error: its description echoes the device code, which the page must not show.
		{"provider_error", 600, []string{"authorization_pending", "invalid_scope"}, http.StatusBadGateway, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newDeviceProvider(t, tc.expiresIn, tc.script...)
			e := newEnv(t, envOptions{connectors: map[string]string{"tv": deviceConnector(p, "")}, params: deviceParams})
			c := browserLike(t)
			status, _, first := startDeviceConnect(t, e, c, map[string]any{"connector": "tv", "account": "acc-x"})
			resp, page := awaitDevice(t, c, status)
			if resp.StatusCode != tc.status || !strings.Contains(page, `data-status="failed"`) || !strings.Contains(page, tc.want) {
				t.Fatalf("outcome: %d\n%s", resp.StatusCode, page)
			}
			if infos, _ := e.Store.ListConnections(t.Context(), ""); len(infos) != 0 {
				t.Errorf("a failed device flow left connections: %+v", infos)
			}
			e.assertNoDeviceSecrets(first, page)
		})
	}
}

// The status page is answered by the server that polls: another server
// sharing the store and key says so instead of "pending" or a guess.
func TestConnectPageDeviceFlowOnAnotherServer(t *testing.T) {
	t.Parallel()
	p := newDeviceProvider(t, 600, "authorization_pending")
	o := envOptions{connectors: map[string]string{"tv": deviceConnector(p, "")}, params: deviceParams, cipher: testCipher(t)}
	a := newEnv(t, o)
	o.store = a.Store
	b := newEnv(t, o)
	c := browserLike(t)
	status, _, _ := startDeviceConnect(t, a, c, map[string]any{"connector": "tv", "account": "acc-m"})
	resp, page := fetch(t, c, "GET", strings.Replace(status, a.URL, b.URL, 1), nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "another server") || strings.Contains(page, "WDJB-MJHT") {
		t.Fatalf("the other server: %d\n%s", resp.StatusCode, page)
	}
	// A forged or altered status URL is refused.
	if resp, _ := fetch(t, c, "GET", status+"x", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("altered status URL: %d", resp.StatusCode)
	}
	// Closing the server stops the polling; the page says it stopped.
	a.Server.Close()
	polls, _ := p.counts()
	resp, page = fetch(t, c, "GET", status, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "stopped") {
		t.Fatalf("after Close: %d\n%s", resp.StatusCode, page)
	}
	time.Sleep(1500 * time.Millisecond)
	if after, _ := p.counts(); after != polls {
		t.Errorf("the token endpoint was polled after Close: %d -> %d", polls, after)
	}
	a.assertNoDeviceSecrets(page)
}

// A connector offering both flows keeps the browser redirect.
func TestConnectPageRedirectsWhenAuthorizeURIToo(t *testing.T) {
	t.Parallel()
	p := newDeviceProvider(t, 600, "authorization_pending")
	e := newEnv(t, envOptions{connectors: map[string]string{"tv": deviceConnector(p, "\n      authorizeUri: "+p.URL+"/authorize")}, params: deviceParams})
	link := e.connectLink(map[string]any{"connector": "tv", "account": "acc-b"})
	resp, _ := fetch(t, browserLike(t), "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), p.URL+"/authorize?") {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if polls, _ := p.counts(); polls != 0 {
		t.Errorf("the device flow ran: %d polls", polls)
	}
}

// In a real browser: the code, the link and the QR code show under the
// page's own CSP, and the page's refresh lands on the outcome once the
// person approved on "another device".
func TestBrowserDeviceFlow(t *testing.T) {
	t.Parallel()
	p := newDeviceProvider(t, 600, "authorization_pending", "authorization_pending", "ok")
	e := newEnv(t, envOptions{connectors: map[string]string{"tv": deviceConnector(p, "")}, params: deviceParams})
	const account = "acc-browser-device"
	link := browserConnectLink(e, map[string]any{"connector": "tv", "account": account})
	tab := browserContext(t)

	tab.navigate("open the connect link", chromedp.Navigate(link))
	tab.do("wait for the form", chromedp.WaitVisible(chromedp.ID("connect-form")))
	tab.navigate("submit", chromedp.Click(chromedp.ID("submit")))
	tab.do("wait for the code", chromedp.WaitVisible(chromedp.ID("user-code")))
	tab.html()
	if code := browserRun(tab, "read the code", chromedp.Text(chromedp.ID("user-code"))); strings.TrimSpace(code) != "WDJB-MJHT" {
		t.Errorf("user code %q", code)
	}
	if href := browserRun(tab, "verification link", chromedp.AttributeValue(chromedp.ID("verification-uri-complete"), "href")); href.Value != p.URL+"/activate?user_code=WDJB-MJHT" {
		t.Errorf("verification_uri_complete link %q", href.Value)
	}
	if w := browserRun(tab, "QR code size", chromedp.Evaluate[float64](`document.querySelector('#device-qr').getBoundingClientRect().width`)); w < 100 {
		t.Errorf("the QR code is %v px wide", w)
	}
	browserScreenshot(tab, "device-code")

	status, text := browserResult(tab)
	tab.html()
	if status != "connected" || !strings.Contains(text, "Connected to Devicey") {
		t.Fatalf("result %q: %s", status, text)
	}
	if list := browserConnections(e, account); len(list) != 1 {
		t.Errorf("connections: %v", list)
	}
	tab.assertCleanConsole()
	e.assertNoDeviceSecrets(tab.seenPages()...)
}
