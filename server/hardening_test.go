package server_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
	"github.com/connspec/connspec/server"
)

// echoAPI is an API that refuses every request and echoes the key it was
// sent in the form and content coding the path names: /FORM/CODING.
type echoAPI struct {
	*httptest.Server
	mu             sync.Mutex
	acceptEncoding []string
	requests       atomic.Int32
}

func compress(t testing.TB, coding string, data []byte) []byte {
	var b bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&b)
	case "deflate":
		w = zlib.NewWriter(&b)
	case "deflate-raw":
		w, _ = flate.NewWriter(&b, flate.DefaultCompression)
	default:
		t.Fatalf("coding %s", coding)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func newEchoAPI(t *testing.T) *echoAPI {
	a := &echoAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		a.mu.Lock()
		a.acceptEncoding = append(a.acceptEncoding, r.Header.Get("Accept-Encoding"))
		a.mu.Unlock()
		key := r.Header.Get("X-Api-Key")
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
		form, codings := parts[0], ""
		if len(parts) > 1 {
			codings = parts[1]
		}
		echo := map[string]string{
			"plain":       key,
			"php":         strings.ReplaceAll(key, "/", `\/`),
			"unicode":     jsonUnicode(key),
			"base64":      base64.StdEncoding.EncodeToString([]byte(key)),
			"base64url":   base64.RawURLEncoding.EncodeToString([]byte(key)),
			"basic":       base64.StdEncoding.EncodeToString([]byte("someone:" + key)),
			"hexupper":    strings.ToUpper(hex.EncodeToString([]byte(key))),
			"urlencoded":  url.QueryEscape(key),
			"upperescape": strings.ToUpper(url.QueryEscape(key)),
			"truncated":   key[:len(key)-3],
		}[form]
		w.Header().Set("Location", "https://app.example/login?next="+url.QueryEscape("b'"+strings.ReplaceAll(key, "-", `\x2d`)+"'"))
		w.Header().Set("X-Debug", "key="+base64.StdEncoding.EncodeToString([]byte(key)))
		w.Header().Set("Content-Type", "application/json")
		body := []byte(`{"error":"key ` + echo + ` is not allowed"}`)
		if codings == "huge" {
			body = append(bytes.Repeat([]byte(" "), 2<<20), body...)
			codings = "gzip"
		}
		var applied []string
		for c := range strings.SplitSeq(codings, ",") {
			switch c {
			case "":
			case "br", "zstd", "compress":
				applied = append(applied, c) // not really encoded: the proxy must not pass it on
			case "broken":
				applied = append(applied, "gzip")
				body = body[:len(body)/2]
			default:
				body = compress(t, c, body)
				applied = append(applied, strings.TrimSuffix(c, "-raw"))
			}
		}
		if len(applied) > 0 {
			w.Header().Set("Content-Encoding", strings.Join(applied, ", "))
		}
		w.WriteHeader(http.StatusForbidden)
		w.Write(body)
	}))
	t.Cleanup(a.Close)
	return a
}

func jsonUnicode(s string) string {
	var b strings.Builder
	for _, c := range s {
		fmt.Fprintf(&b, `\u%04X`, c)
	}
	return b.String()
}

// TestProxyRedactsEveryEncodingOfAnEchoedKey: whatever content coding and
// text encoding the API echoes the key in, the caller never sees it, and
// the caller's Accept-Encoding never reaches the API.
func TestProxyRedactsEveryEncodingOfAnEchoedKey(t *testing.T) {
	api := newEchoAPI(t)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	ctx := context.Background()
	const id = "conn_echo"
	if _, err := e.Store.CompareAndSwap(ctx, id, 0, map[string]any{"apiKey": canaryAPIKey}); err != nil {
		t.Fatal(err)
	}
	e.Store.PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "keyed", Input: map[string]any{"apiKey": canaryAPIKey}})

	forms := []string{"plain", "php", "unicode", "base64", "base64url", "basic", "hexupper", "urlencoded", "upperescape", "truncated"}
	codings := []string{"", "gzip", "x-gzip", "deflate", "deflate-raw", "gzip,gzip", "deflate,gzip", "gzip,deflate,x-gzip"}
	forbidden := []string{canaryAPIKey, canaryAPIKey[:len(canaryAPIKey)-3], base64.StdEncoding.EncodeToString([]byte(canaryAPIKey))[:20]}
	for _, accept := range []string{"", "br, deflate, zstd", "gzip, deflate, br", "*"} {
		for _, form := range forms {
			for _, coding := range codings {
				h := http.Header{}
				if accept != "" {
					h.Set("Accept-Encoding", accept)
				}
				resp := e.proxy("GET", id, form+"/"+coding, nil, h)
				body := readAll(t, resp)
				text := canaryHeaderText(resp.Header) + body
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "is not allowed") || resp.Header.Get("Content-Encoding") != "" {
					t.Errorf("%s/%s (accept %q): %d %v %q", form, coding, accept, resp.StatusCode, resp.Header, body)
				}
				for _, f := range forbidden {
					if strings.Contains(text, f) {
						t.Errorf("%s/%s (accept %q): the key leaked: %s", form, coding, accept, text)
					}
				}
			}
		}
	}
	api.mu.Lock()
	for _, ae := range api.acceptEncoding {
		if ae != "gzip" && ae != "identity" {
			t.Errorf("the API was asked for Accept-Encoding %q", ae)
		}
	}
	api.mu.Unlock()
	e.assertNoCanaries()
}

// TestProxyWithholdsErrorBodiesItCannotRead: an error body in a coding the
// proxy cannot decode, broken, or too large is replaced by a clear error.
func TestProxyWithholdsErrorBodiesItCannotRead(t *testing.T) {
	api := newEchoAPI(t)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	ctx := context.Background()
	const id = "conn_echo"
	e.Store.CompareAndSwap(ctx, id, 0, map[string]any{"apiKey": canaryAPIKey})
	e.Store.PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "keyed", Input: map[string]any{"apiKey": canaryAPIKey}})
	var texts []string
	for _, coding := range []string{"br", "zstd", "compress", "gzip,br", "broken", "huge"} {
		resp := e.proxy("GET", id, "plain/"+coding, nil, http.Header{"Accept-Encoding": {"br"}})
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "error_body_withheld") || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: %d %v %s", coding, resp.StatusCode, resp.Header, body)
		}
		texts = append(texts, canaryHeaderText(resp.Header)+body)
	}
	e.assertNoCanaries(texts...)
}

// TestProxyRefusesPathsThatLeaveTheBasePath: dot-segments in any spelling,
// encoded separators and doubly encoded ones never reach the API.
func TestProxyRefusesPathsThatLeaveTheBasePath(t *testing.T) {
	var seen atomic.Value
	seen.Store("")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.EscapedPath())
		io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
	}))
	defer api.Close()
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL + "/api")}})
	ctx := context.Background()
	const id = "conn_paths"
	e.Store.CompareAndSwap(ctx, id, 0, map[string]any{"apiKey": canaryAPIKey})
	e.Store.PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "keyed", Input: map[string]any{"apiKey": canaryAPIKey}})
	bad := []string{
		"%2e%2e/%2e%2e/x", "%2E%2E/x", ".%2e/x", "%2e./x", "%2E%2e/x", "../x", "a/../../x", "./x", "a/%2e/b",
		"a%2fb", "a%2F..%2Fx", "%2e%2e%2fx", "a%5cb", "..%5Cx", "%5c%5cevil/x",
		"%252e%252e/x", "a%252fb", "%255c", "..;/x", "%2e%2e;jsessionid=1/x",
		"x%00y", "x%0d%0aHost:%20evil", "%zz",
	}
	for _, p := range bad {
		seen.Store("")
		req, _ := http.NewRequest("GET", e.URL+"/", nil)
		req.URL.Opaque = "/v1/proxy/" + id + "/" + p // sent exactly as written
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		// (net/http itself refuses a malformed escape with a bare 400.)
		if resp.StatusCode != http.StatusBadRequest || (!strings.Contains(body, "bad_path") && p != "%zz") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
		if s := seen.Load().(string); s != "" {
			t.Errorf("%s reached the API as %s", p, s)
		}
	}
	// Ordinary paths, escapes included, stay under /api.
	for p, want := range map[string]string{"v1/items": "/api/v1/items", "v1/a%20b": "/api/v1/a%20b", "a..b/.c/d.": "/api/a..b/.c/d."} {
		resp := e.proxy("GET", id, p, nil, nil)
		if body := readAll(t, resp); resp.StatusCode != 200 || seen.Load() != want {
			t.Errorf("%s: %d %s, the API saw %v", p, resp.StatusCode, body, seen.Load())
		}
	}
}

// TestServeWithoutAKeyRefusesRebindingAndCrossSiteRequests: without an
// API key only loopback Host headers and same-origin requests are served.
func TestServeWithoutAKeyRefusesRebindingAndCrossSiteRequests(t *testing.T) {
	if _, err := server.New(server.Config{Engine: nil}); err == nil {
		t.Fatal("New without anything")
	}
	api := newAPIServer(t, canaryAPIKey)
	noKey := ""
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}, apiKey: &noKey})
	_, port, _ := strings.Cut(strings.TrimPrefix(e.URL, "http://"), ":")
	do := func(method, host string, header http.Header, body string) (int, string) {
		req, _ := http.NewRequest(method, e.URL+"/v1/connections", strings.NewReader(body))
		req.Host = host
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}
	for _, host := range []string{"attacker.example", "attacker.example:" + port, "127.evil.example:" + port, "127.0.0.1.nip.io:" + port, "0.0.0.0:" + port} {
		if status, body := do("GET", host, nil, ""); status != http.StatusMisdirectedRequest || !strings.Contains(body, "host_refused") {
			t.Errorf("Host %s: %d %s", host, status, body)
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port, "127.0.0.2:" + port} {
		if status, body := do("GET", host, nil, ""); status != 200 {
			t.Errorf("Host %s: %d %s", host, status, body)
		}
	}
	create := `{"account":"acc-1","connector":"keyed","input":{"apiKey":"` + canaryAPIKey + `"}}`
	local := "127.0.0.1:" + port
	for name, h := range map[string]http.Header{
		"cross-site origin":         {"Origin": {"https://evil.example"}, "Content-Type": {"text/plain"}},
		"sec-fetch-site cross-site": {"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"text/plain"}},
		"sec-fetch-site same-site":  {"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://sub.localhost:" + port}},
		"null origin":               {"Origin": {"null"}},
	} {
		if status, body := do("POST", local, h, create); status != http.StatusForbidden {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if infos, _ := e.Store.ListConnections(t.Context(), ""); len(infos) != 0 {
		t.Fatalf("a cross-site request created %d connections", len(infos))
	}
	if status, body := do("POST", local, http.Header{"Origin": {e.URL}, "Sec-Fetch-Site": {"same-origin"}}, create); status != http.StatusCreated {
		t.Errorf("same-origin: %d %s", status, body)
	}
	if status, body := do("POST", local, nil, create); status != http.StatusCreated {
		t.Errorf("a program (no Origin): %d %s", status, body)
	}
	e.assertNoCanaries()
}

// TestServerNeedsAKeyOrInsecureNoKey: an empty APIKey alone is an error.
func TestServerNeedsAKeyOrInsecureNoKey(t *testing.T) {
	_, err := server.New(server.Config{Engine: newEnv(t, envOptions{}).Engine, Store: store.NewMemory(), Cipher: testCipher(t), PublicURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "APIKey") {
		t.Errorf("New without a key: %v", err)
	}
}

func TestCheckAddrParsesTheHost(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:80": true, "localhost:80": true, "LocalHost:80": true, "[::1]:80": true,
		"127.evil.com:80": false, "127.0.0.1.nip.io:80": false, "localhost.evil.com:80": false, ":8080": false,
		"0.0.0.0:80": false, "[::]:80": false, "127.0.0.1": false, "example.com:80": false,
	} {
		if err := server.CheckAddr(addr, ""); (err == nil) != ok {
			t.Errorf("CheckAddr(%q) = %v", addr, err)
		}
	}
}

// flowStores are the stores a flow must complete once on: memory, SQLite
// (two servers on one file) and PostgreSQL when CONNSPEC_TEST_POSTGRES_URL
// is set.
func flowStores(t *testing.T) map[string]func(t *testing.T) server.Store {
	out := map[string]func(t *testing.T) server.Store{
		"memory": func(t *testing.T) server.Store { return store.NewMemory() },
	}
	return out
}

// sharedStores returns two handles on one store (as two servers have).
func sharedStores(t *testing.T, kind string, c *store.Cipher) (server.Store, server.Store) {
	switch kind {
	case "memory":
		m := store.NewMemory()
		return m, m
	case "sqlite":
		path := filepath.Join(t.TempDir(), "shared.db")
		a, err := store.OpenSQLite(path, c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := store.OpenSQLite(path, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	case "postgres":
		u := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
		if u == "" {
			t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set")
		}
		schemaURL := multiSchema(t, u)
		return multiOpenPostgres(t, schemaURL, c), multiOpenPostgres(t, schemaURL, c)
	}
	t.Fatalf("store %s", kind)
	return nil, nil
}

// TestOAuthFlowCompletesOnce: replaying the callback with the same flow
// cookie, on the same server or another sharing the store, exchanges no
// second code and leaves one connection.
func TestOAuthFlowCompletesOnce(t *testing.T) {
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret, RequirePKCE: true})
			c := testCipher(t)
			sa, sb := sharedStores(t, kind, c)
			conns := map[string]string{"oauthy": oauthConnector(srv)}
			a := newEnv(t, envOptions{connectors: conns, params: oauthParams, store: sa, cipher: c})
			b := newEnv(t, envOptions{connectors: conns, params: oauthParams, store: sb, cipher: c})
			link := a.connectLink(map[string]any{"connector": "oauthy", "account": "acc-r"})
			br := browserLike(t)
			resp, _ := fetch(t, br, "POST", link, url.Values{"option": {""}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("submit: %d", resp.StatusCode)
			}
			var flowCookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if strings.HasPrefix(ck.Name, "connspec_flow_") {
					flowCookie = ck
				}
			}
			cb := srv.Authorize(t, resp.Header.Get("Location"))
			replay := func(base string) (int, string) {
				req, _ := http.NewRequest("GET", base+cb.Path+"?"+cb.RawQuery, nil)
				req.AddCookie(&http.Cookie{Name: flowCookie.Name, Value: flowCookie.Value})
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, readAll(t, resp)
			}
			if status, page := replay(a.URL); status != 200 || !strings.Contains(page, `data-status="connected"`) {
				t.Fatalf("the callback: %d %s", status, page)
			}
			for i, base := range []string{a.URL, a.URL, b.URL} {
				if status, page := replay(base); status != http.StatusBadRequest || !strings.Contains(page, "already finished") {
					t.Errorf("replay %d: %d %s", i, status, page)
				}
			}
			if n := srv.Grants("authorization_code"); n != 1 {
				t.Errorf("%d code exchanges for one flow", n)
			}
			if infos, _ := sa.ListConnections(t.Context(), "acc-r"); len(infos) != 1 {
				t.Errorf("%d connections for one flow", len(infos))
			}
			a.assertNoCanaries()
		})
	}
}

// TestConnectFormRefusesCrossSiteSubmits: a submit from another site, or
// without the token of this link's page in this browser, starts nothing.
func TestConnectFormRefusesCrossSiteSubmits(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": oauthConnector(srv)}, params: oauthParams})
	link := e.connectLink(map[string]any{"connector": "oauthy", "account": "victim"})
	other := e.connectLink(map[string]any{"connector": "oauthy", "account": "victim"})
	victim := browserLike(t)
	_, page := fetch(t, victim, "GET", link, nil)
	token := formTokenOf(page)
	_, otherPage := fetch(t, victim, "GET", other, nil)
	attacker := browserLike(t)
	_, attackerPage := fetch(t, attacker, "GET", link, nil)

	post := func(c *http.Client, form url.Values, header http.Header) *http.Response {
		req, _ := http.NewRequest("POST", link, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		return resp
	}
	for name, tc := range map[string]struct {
		form   url.Values
		header http.Header
	}{
		"cross-site origin":        {url.Values{"option": {""}, "form_token": {token}}, http.Header{"Origin": {"https://evil.example"}}},
		"sec-fetch-site":           {url.Values{"option": {""}, "form_token": {token}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		"no token":                 {url.Values{"option": {""}}, nil},
		"token of another link":    {url.Values{"option": {""}, "form_token": {formTokenOf(otherPage)}}, nil},
		"token of another browser": {url.Values{"option": {""}, "form_token": {formTokenOf(attackerPage)}}, nil},
		"forged token":             {url.Values{"option": {""}, "form_token": {token[:len(token)-4] + "AAAA"}}, nil},
	} {
		resp := post(victim, tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, ck := range resp.Cookies() {
			if strings.HasPrefix(ck.Name, "connspec_flow_") {
				t.Errorf("%s: a flow cookie was set", name)
			}
		}
	}
	if resp := post(victim, url.Values{"option": {""}, "form_token": {token}}, http.Header{"Origin": {e.URL}, "Sec-Fetch-Site": {"same-origin"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the real form: %d", resp.StatusCode)
	}
	e.assertNoCanaries()
}

// TestConnectLinksAreSingleUse: once a link has produced a connection it
// opens no form and makes no second connection, through the form or a
// second OAuth flow started before the first finished.
func TestConnectLinksAreSingleUse(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL), "oauthy": oauthConnector(srv)}, params: oauthParams})

	link := e.connectLink(map[string]any{"connector": "keyed", "account": "once"})
	c := browserLike(t)
	_, page := fetch(t, c, "GET", link, nil)
	token := formTokenOf(page)
	resp, page := fetch(t, c, "POST", link, url.Values{"f_apiKey": {canaryAPIKey}, "form_token": {token}})
	if resp.StatusCode != 200 || !strings.Contains(page, `data-status="connected"`) {
		t.Fatalf("first use: %d %s", resp.StatusCode, page)
	}
	if resp, page := fetch(t, c, "POST", link, url.Values{"f_apiKey": {canaryAPIKey}, "form_token": {token}}); resp.StatusCode != http.StatusGone || !strings.Contains(page, "already used") {
		t.Errorf("second submit: %d %s", resp.StatusCode, page)
	}
	if resp, _ := fetch(t, browserLike(t), "GET", link, nil); resp.StatusCode != http.StatusGone {
		t.Errorf("opening a used link: %d", resp.StatusCode)
	}

	// Two OAuth flows from one link: the second callback is turned away.
	link = e.connectLink(map[string]any{"connector": "oauthy", "account": "once-o"})
	var callbacks []func() (*http.Response, string)
	for range 2 {
		b := browserLike(t)
		resp, _ := fetch(t, b, "POST", link, url.Values{"option": {""}})
		cb := srv.Authorize(t, resp.Header.Get("Location"))
		callbacks = append(callbacks, func() (*http.Response, string) { return fetch(t, b, "GET", cb.String(), nil) })
	}
	if resp, page := callbacks[0](); resp.StatusCode != 200 {
		t.Fatalf("first flow: %d %s", resp.StatusCode, page)
	}
	if resp, page := callbacks[1](); resp.StatusCode == 200 || !strings.Contains(page, "already used") {
		t.Errorf("second flow of one link: %d %s", resp.StatusCode, page)
	}
	if infos, _ := e.Store.ListConnections(t.Context(), "once-o"); len(infos) != 1 {
		t.Errorf("one link made %d connections", len(infos))
	}
	e.assertNoCanaries()
}

// TestListingSurvivesAnUnreadableRow: one damaged row is listed as
// unreadable; the others are listed as usual.
func TestListingSurvivesAnUnreadableRow(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	c := testCipher(t)
	path := filepath.Join(t.TempDir(), "c.db")
	st, err := store.OpenSQLite(path, c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}, store: st, cipher: c})
	good, broken := e.createKeyed(canaryAPIKey, "acc"), e.createKeyed(canaryAPIKey, "acc")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE connection_info SET input = 'not sealed ' || input WHERE id = ?`, broken); err != nil {
		t.Fatal(err)
	}
	status, body := e.api("GET", "/v1/connections", nil)
	var list []map[string]any
	json.Unmarshal(body, &list)
	if status != 200 || len(list) != 2 {
		t.Fatalf("list: %d %s", status, body)
	}
	for _, v := range list {
		switch v["id"] {
		case good:
			if v["error"] != nil || v["state"] != "connected" {
				t.Errorf("the good row: %v", v)
			}
		case broken:
			if v["error"] != "unreadable" {
				t.Errorf("the broken row: %v", v)
			}
		}
	}
	e.assertNoCanaries(string(body))
}
