package server_test

// Browser tests of the connect page: a real headless Chromium, driven with
// chromedp, fills in the form and follows OAuth redirects, so what is checked
// is what a person's browser does with the page (HTML validation, CSP,
// cookies, redirect chains), not what an HTTP client does.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/connspec/connspec/internal/oauthtest"
)

// browserTimeout bounds a whole browser test, so a hang fails it.
const browserTimeout = 60 * time.Second

// browserExecPath finds Chromium, or skips the test; with
// CONNSPEC_REQUIRE_BROWSER=1 (as CI sets it) a missing browser fails the
// test instead, so it can never be skipped there without anyone noticing.
func browserExecPath(t *testing.T) string {
	t.Helper()
	required := os.Getenv("CONNSPEC_REQUIRE_BROWSER") == "1"
	if testing.Short() && !required {
		t.Skip("browser test skipped in -short mode")
	}
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	const msg = "Chromium not found (neither /usr/bin/chromium nor chromium on PATH): install it (apt-get install chromium) to run the browser tests"
	if required {
		t.Fatal(msg + "; CONNSPEC_REQUIRE_BROWSER=1 forbids skipping")
	}
	t.Skip(msg)
	return ""
}

// browserTab is one tab of a fresh headless Chromium, with what it saw.
type browserTab struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	pages   []string // outer HTML of every page read with html
}

// browserContext starts Chromium with a fresh profile and returns its tab.
// The browser is closed, and its output logged if the test failed, when the
// test ends.
func browserContext(t *testing.T) *browserTab {
	t.Helper()
	execPath := browserExecPath(t)
	output := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		browserScratchEnv(t),
		chromedp.WindowSize(1024, 800),
		chromedp.CombinedOutput(output),
	)
	timeout, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	tab := &browserTab{t: t, ctx: ctx}

	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		cancelTimeout()
		wg.Wait()
		if t.Failed() {
			t.Logf("browser output:\n%s", output.String())
			for _, m := range tab.consoleMessages() {
				t.Logf("console %s: %s (%s)", m.Type, m.Text, m.URL)
			}
		}
	})
	// The first action starts the browser and binds it to the timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", execPath, err, output.String())
	}
	messages := chromedp.Console(ctx)
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tab.mu.Lock()
			tab.console = append(tab.console, m)
			tab.mu.Unlock()
		}
	})
	return tab
}

// do runs actions, failing the test with step in the message.
func (b *browserTab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", step, err)
	}
}

// browserRun runs one action that returns a value.
func browserRun[T any](b *browserTab, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", step, err)
	}
	return v
}

// navigate runs actions that load a page (a navigation, a click on a submit
// button) and returns the response of the document the browser ends on.
func (b *browserTab) navigate(step string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", step, err)
	}
	return resp
}

// html returns the outer HTML of the current page and keeps it for the
// canary check.
func (b *browserTab) html() string {
	b.t.Helper()
	h := browserRun(b, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
	b.mu.Lock()
	b.pages = append(b.pages, h)
	b.mu.Unlock()
	return h
}

func (b *browserTab) seenPages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.pages...)
}

func (b *browserTab) consoleMessages() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.console...)
}

// assertCleanConsole fails on uncaught exceptions and on anything the
// Content Security Policy blocked: the page must work under its own CSP.
func (b *browserTab) assertCleanConsole() {
	b.t.Helper()
	for _, m := range b.consoleMessages() {
		b.t.Logf("browser console: %s: %s (%s)", m.Type, m.Text, m.URL)
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Refused to") {
			b.t.Errorf("browser console: %s: %s (%s)", m.Type, m.Text, m.URL)
		}
	}
}

// browserScreenshot saves a full-page PNG of the current page and logs its
// path: under the test's temporary directory, or under
// $CONNSPEC_SCREENSHOT_DIR when set (to keep them, e.g. as CI artifacts).
func browserScreenshot(b *browserTab, name string) string {
	b.t.Helper()
	png := browserRun(b, "screenshot", chromedp.FullScreenshot(100))
	if len(png) < 100 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("screenshot %s: not a PNG (%d bytes)", name, len(png))
	}
	dir := os.Getenv("CONNSPEC_SCREENSHOT_DIR")
	if dir == "" {
		dir = b.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, b.t.Name()+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s: %s (%d bytes)", name, path, len(png))
	return path
}

// browserResult waits for the result page and returns its status
// (data-status) and text.
func browserResult(b *browserTab) (status, text string) {
	b.t.Helper()
	b.do("wait for the result page", chromedp.WaitVisible(chromedp.ID("result")))
	attr := browserRun(b, "read data-status", chromedp.AttributeValue(chromedp.ID("result"), "data-status"))
	text = browserRun(b, "read the result", chromedp.Text(chromedp.ID("result")))
	return attr.Value, text
}

// browserConnectLink creates a connect session and returns its URL.
func browserConnectLink(e *env, body map[string]any) string {
	e.t.Helper()
	status, data := e.api("POST", "/v1/connect-sessions", body)
	var out struct{ URL, ExpiresAt string }
	if err := json.Unmarshal(data, &out); status != http.StatusCreated || err != nil || !strings.HasPrefix(out.URL, e.URL+"/connect/") {
		e.t.Fatalf("connect session: %d %s", status, data)
	}
	return out.URL
}

// browserRequests counts the requests the server answered on a route,
// from its metrics.
func browserRequests(e *env, route string) int {
	e.t.Helper()
	n := 0
	for line := range strings.Lines(e.metricsText()) {
		if !strings.HasPrefix(line, "connspec_http_requests_total{") || !strings.Contains(line, `route="`+route+`"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			e.t.Fatalf("metrics line %q: %v", line, err)
		}
		n += int(v)
	}
	return n
}

// browserConnections lists the connections of an account via the admin API.
func browserConnections(e *env, account string) []map[string]any {
	e.t.Helper()
	status, body := e.api("GET", "/v1/connections?account="+url.QueryEscape(account), nil)
	var list []map[string]any
	if err := json.Unmarshal(body, &list); status != http.StatusOK || err != nil {
		e.t.Fatalf("list connections: %d %s", status, body)
	}
	return list
}

// browserFormState is what the form looks like after a blocked submit.
type browserFormState struct {
	Marker       string `json:"marker"`
	Form         bool   `json:"form"`
	Result       bool   `json:"result"`
	ValueMissing bool   `json:"valueMissing"`
	Message      string `json:"message"`
	Focused      string `json:"focused"`
}

func TestBrowserAPIKeyForm(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	const account = "acc-browser-keyed"
	link := browserConnectLink(e, map[string]any{"connector": "keyed", "account": account})
	tab := browserContext(t)
	began := time.Now()

	// The form, as the connector's UI schema describes it.
	resp := tab.navigate("open the connect link", chromedp.Navigate(link))
	if resp.Status != http.StatusOK || !strings.HasPrefix(resp.MimeType, "text/html") {
		t.Fatalf("connect page: %d %s", resp.Status, resp.MimeType)
	}
	tab.do("wait for the form", chromedp.WaitVisible(chromedp.ID("connect-form")))
	tab.html()
	if title := browserRun(tab, "title", chromedp.Title()); title != "Connect Keyed API" {
		t.Errorf("title %q", title)
	}
	shown := browserRun(tab, "read the page text", chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"Connect Keyed API", "Paste an API key.", "Where do I find this?", "Starts with key-"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the page does not show %q:\n%s", want, shown)
		}
	}
	if label := browserRun(tab, "API key label", chromedp.Text(chromedp.CSS(`label[for="f_apiKey"]`))); strings.TrimSpace(label) != "API key" {
		t.Errorf("API key label %q", label)
	}
	if label := browserRun(tab, "Region label", chromedp.Text(chromedp.CSS(`label[for="f_region"]`))); !strings.HasPrefix(strings.TrimSpace(label), "Region") {
		t.Errorf("Region label %q", label)
	}
	if typ := browserRun(tab, "API key type", chromedp.AttributeValue(chromedp.ID("f_apiKey"), "type")); typ.Value != "password" {
		t.Errorf("the API key input has type %q, want password", typ.Value)
	}
	if region := browserRun(tab, "Region value", chromedp.Value(chromedp.ID("f_region"))); region != "eu" {
		t.Errorf("Region starts as %q, want the default eu", region)
	}
	if href := browserRun(tab, "help link", chromedp.AttributeValue(chromedp.CSS("p.lead a"), "href")); href.Value != "https://example.com/help" {
		t.Errorf("help link %q", href.Value)
	}
	if button := browserRun(tab, "button", chromedp.Text(chromedp.ID("submit"))); strings.TrimSpace(button) != "Connect" {
		t.Errorf("button %q", button)
	}
	browserScreenshot(tab, "keyed-form")

	// An empty API key: the browser's validation (required) keeps the form
	// from being sent at all. The marker survives only if the page was not
	// replaced, and the server must not have seen a POST.
	tab.do("submit with an empty key",
		chromedp.Evaluate[chromedp.Void](`window.browserMarker = "still-here"`),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.Sleep(700*time.Millisecond),
	)
	st := browserRun(tab, "read the form state", chromedp.Evaluate[browserFormState](`(() => {
		const k = document.querySelector('#f_apiKey');
		return {marker: window.browserMarker || "", form: !!document.querySelector('#connect-form'),
			result: !!document.querySelector('#result'), valueMissing: !!(k && k.validity.valueMissing),
			message: k ? k.validationMessage : "", focused: document.activeElement ? document.activeElement.id : ""};
	})()`))
	if st.Marker != "still-here" || !st.Form || st.Result || !st.ValueMissing {
		t.Fatalf("an empty required API key was not blocked by the browser: %+v", st)
	}
	t.Logf("client-side validation: %q, focus on %q", st.Message, st.Focused)
	if n := browserRequests(e, "POST /connect/{token}"); n != 0 {
		t.Fatalf("the server got %d form posts despite the empty required field", n)
	}

	// A wrong key: the connector's test fails on the server, the form comes
	// back with the reason, the region kept and the secret not written back.
	wrongKey := canaryAPIKey + "-wrong"
	tab.do("fill in a wrong key",
		chromedp.SendKeys(chromedp.ID("f_apiKey"), wrongKey),
		chromedp.SetValue(chromedp.ID("f_region"), "us"),
	)
	resp = tab.navigate("submit a wrong key", chromedp.Click(chromedp.ID("submit")))
	if resp.Status != http.StatusUnprocessableEntity {
		t.Errorf("wrong key: status %d, want 422", resp.Status)
	}
	tab.do("wait for the error", chromedp.WaitVisible(chromedp.ID("form-error")))
	page := tab.html()
	failure := browserRun(tab, "read the error", chromedp.Text(chromedp.ID("form-error")))
	t.Logf("server-side failure: %q", failure)
	// The person learns the service refused the details, not the API's
	// internal URL (that goes to the logs).
	if !strings.Contains(failure, "Connecting failed") || !strings.Contains(failure, "did not accept these details") || strings.Contains(failure, "127.0.0.1") {
		t.Errorf("the failure message does not say the details were refused: %q", failure)
	}
	if v := browserRun(tab, "API key after the failure", chromedp.Value(chromedp.ID("f_apiKey"))); v != "" {
		t.Errorf("the API key field was refilled after a failed submit: %q", v)
	}
	if strings.Contains(page, wrongKey) || strings.Contains(page, canaryAPIKey) {
		t.Errorf("the re-rendered form contains the typed key")
	}
	if v := browserRun(tab, "Region after the failure", chromedp.Value(chromedp.ID("f_region"))); v != "us" {
		t.Errorf("the region was not kept after a failed submit: %q", v)
	}
	if n := len(browserConnections(e, account)); n != 0 {
		t.Fatalf("a failed attempt left %d connections", n)
	}
	browserScreenshot(tab, "keyed-wrong-key")

	// The right key: connected.
	tab.do("fill in the right key", chromedp.SendKeys(chromedp.ID("f_apiKey"), canaryAPIKey))
	resp = tab.navigate("submit the right key", chromedp.Click(chromedp.ID("submit")))
	if resp.Status != http.StatusOK {
		t.Errorf("right key: status %d, want 200", resp.Status)
	}
	status, text := browserResult(tab)
	tab.html()
	if status != "connected" || !strings.Contains(text, "Connected to Keyed API") {
		t.Fatalf("result: %s %q", status, text)
	}
	browserScreenshot(tab, "keyed-connected")

	list := browserConnections(e, account)
	if len(list) != 1 || list[0]["connector"] != "keyed" || list[0]["account"] != account || list[0]["state"] != "connected" {
		t.Fatalf("connections of %s: %v", account, list)
	}
	info, err := e.Store.GetConnection(t.Context(), list[0]["id"].(string))
	if err != nil || info.Input["region"] != "us" {
		t.Errorf("stored input: %v %v, want region us", info.Input["region"], err)
	}
	if n := browserRequests(e, "POST /connect/{token}"); n != 2 {
		t.Errorf("the server got %d form posts, want 2 (wrong key, right key)", n)
	}
	tab.assertCleanConsole()
	e.assertNoCanaries(tab.seenPages()...)
	t.Logf("browser flow took %v", time.Since(began).Round(time.Millisecond))
}

// browserRedirectRecorder is the embedder's page that a connect session
// sends the person back to; it records the queries it receives.
type browserRedirectRecorder struct {
	*httptest.Server
	mu      sync.Mutex
	queries []url.Values
}

func newBrowserRedirectRecorder(t *testing.T) *browserRedirectRecorder {
	r := &browserRedirectRecorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/done" {
			http.NotFound(w, req)
			return
		}
		r.mu.Lock()
		r.queries = append(r.queries, req.URL.Query())
		r.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>Embedder</title><p id="embedder">Back at the app.</p>`))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *browserRedirectRecorder) received() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.queries...)
}

func browserOAuthEnv(t *testing.T, srv *oauthtest.Server) *env {
	return newEnv(t, envOptions{
		connectors: map[string]string{"oauthy": oauthConnector(srv)},
		params:     map[string]map[string]any{"oauthy": {"clientId": "client-1", "clientSecret": canaryClientSecret}},
	})
}

func TestBrowserOAuth2Flow(t *testing.T) {
	t.Parallel()
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true, ClientSecret: canaryClientSecret})
	e := browserOAuthEnv(t, srv)
	back := newBrowserRedirectRecorder(t)
	const account = "acc-browser-oauth"
	link := browserConnectLink(e, map[string]any{"connector": "oauthy", "account": account, "redirectUrl": back.URL + "/done?app=7"})
	tab := browserContext(t)
	began := time.Now()

	tab.navigate("open the connect link", chromedp.Navigate(link))
	tab.do("wait for the button", chromedp.WaitVisible(chromedp.ID("submit")))
	tab.html()
	if button := browserRun(tab, "button", chromedp.Text(chromedp.ID("submit"))); strings.TrimSpace(button) != "Continue to OAuthy" {
		t.Errorf("button %q, want Continue to OAuthy", button)
	}
	if n := browserRun(tab, "count inputs", chromedp.Evaluate[int](`document.querySelectorAll('#connect-form input:not([type=hidden])').length`)); n != 0 {
		t.Errorf("an OAuth connector without a UI schema shows %d inputs", n)
	}
	browserScreenshot(tab, "oauth-form")

	// Connect page -> provider (auto-approves) -> /oauth/callback -> the
	// embedder's redirect URL, all followed by the browser itself.
	resp := tab.navigate("continue to the provider", chromedp.Click(chromedp.ID("submit")))
	tab.do("wait for the embedder's page", chromedp.WaitVisible(chromedp.ID("embedder")))
	tab.html()
	loc := browserRun(tab, "location", chromedp.Location())
	if resp.Status != http.StatusOK || !strings.HasPrefix(loc, back.URL+"/done?") {
		t.Fatalf("the flow ended on %s (%d), want the redirect URL", loc, resp.Status)
	}
	got := back.received()
	if len(got) != 1 {
		t.Fatalf("the redirect URL was visited %d times: %v", len(got), got)
	}
	q := got[0]
	id := q.Get("connection")
	if q.Get("status") != "connected" || !strings.HasPrefix(id, "conn_") || q.Get("connector") != "oauthy" || q.Get("app") != "7" || q.Get("error") != "" {
		t.Fatalf("redirect query: %v", q)
	}

	status, body := e.api("GET", "/v1/connections/"+id, nil)
	var conn map[string]any
	json.Unmarshal(body, &conn)
	if status != http.StatusOK || conn["state"] != "connected" || conn["account"] != account || conn["connector"] != "oauthy" {
		t.Fatalf("connection %s: %d %s", id, status, body)
	}
	if n := len(browserConnections(e, account)); n != 1 {
		t.Errorf("%d connections for %s, want 1", n, account)
	}
	if n := srv.Grants("authorization_code"); n != 1 {
		t.Errorf("authorization_code grants: %d, want 1", n)
	}
	if n := browserRequests(e, "GET /oauth/callback"); n != 1 {
		t.Errorf("callbacks: %d, want 1", n)
	}
	// The flow cookie was used up on the callback.
	cookies, err := chromedp.Call(tab.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.URL + "/oauth/callback", e.URL + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if strings.HasPrefix(c.Name, "connspec_flow_") {
			t.Errorf("the flow cookie %s outlived the callback", c.Name)
		}
	}
	tab.assertCleanConsole()
	e.assertNoCanaries(append(tab.seenPages(), back.URL+"?"+q.Encode())...)
	t.Logf("browser flow took %v", time.Since(began).Round(time.Millisecond))
}

func TestBrowserOAuth2Denied(t *testing.T) {
	t.Parallel()
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true, ClientSecret: canaryClientSecret, DenyAuthorization: true})
	e := browserOAuthEnv(t, srv)
	const account = "acc-browser-denied"
	link := browserConnectLink(e, map[string]any{"connector": "oauthy", "account": account})
	tab := browserContext(t)

	tab.navigate("open the connect link", chromedp.Navigate(link))
	tab.do("wait for the button", chromedp.WaitVisible(chromedp.ID("submit")))
	tab.html()
	tab.navigate("continue to the provider", chromedp.Click(chromedp.ID("submit")))
	status, text := browserResult(tab)
	tab.html()
	t.Logf("denied: %q", strings.Join(strings.Fields(text), " "))
	if status != "failed" || !strings.Contains(text, "access_denied") || !strings.Contains(text, "Connecting to OAuthy failed") {
		t.Fatalf("result: %s %q", status, text)
	}
	if loc := browserRun(tab, "location", chromedp.Location()); !strings.HasPrefix(loc, e.URL+"/oauth/callback?") {
		t.Errorf("the failure is shown at %s, want the callback", loc)
	}
	browserScreenshot(tab, "oauth-denied")
	if n := len(browserConnections(e, account)); n != 0 {
		t.Errorf("a denied authorization left %d connections", n)
	}
	if infos, err := e.Store.ListConnections(t.Context(), ""); err != nil || len(infos) != 0 {
		t.Errorf("store after a denial: %v %v", infos, err)
	}
	if n := srv.Grants("authorization_code"); n != 0 {
		t.Errorf("authorization_code grants after a denial: %d", n)
	}
	tab.assertCleanConsole()
	e.assertNoCanaries(tab.seenPages()...)
}

// browserScratchEnv points Chromium's home, caches and temporary files
// (crash reports, singleton sockets) into the test's temporary directory,
// which is removed with the test; otherwise they stay in $HOME and /tmp.
func browserScratchEnv(t *testing.T) chromedp.ExecAllocatorOption {
	// Not t.TempDir: its path holds the test's name, and Chromium's
	// singleton socket under TMPDIR must fit a Unix socket path (108 bytes).
	dir, err := os.MkdirTemp("", "chr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return chromedp.Env("HOME="+dir, "TMPDIR="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
}
