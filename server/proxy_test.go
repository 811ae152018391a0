package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
)

// proxy sends a request through the proxy with the admin key.
func (e *env) proxy(method, id, path string, body io.Reader, header http.Header) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+"/v1/proxy/"+id+"/"+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	// Redirects of the API come back to the caller; the test looks at them.
	c := *e.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestProxyForwardsWithCredentialsAndWithoutTheCallersOwn(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	id := e.createKeyed(canaryAPIKey, "acc")

	resp := e.proxy("POST", id, "echo?a=1&a=2&b=x%20y", strings.NewReader(`{"hello":"world"}`),
		http.Header{"Content-Type": {"application/json"}, "Cookie": {"session=caller"}, "X-Custom": {"kept"}})
	body := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("proxy: %d %s", resp.StatusCode, body)
	}
	var echo map[string]string
	json.Unmarshal([]byte(body), &echo)
	if echo["method"] != "POST" || echo["path"] != "/echo" || echo["query"] != "a=1&a=2&b=x%20y" || echo["body"] != `{"hello":"world"}` || echo["contentType"] != "application/json" {
		t.Errorf("the API saw %v", echo)
	}
	api.mu.Lock()
	seen := api.lastSeen
	api.mu.Unlock()
	if seen.Get("X-Api-Key") != canaryAPIKey {
		t.Errorf("credentials were not applied")
	}
	if seen.Get("Authorization") != "" || seen.Get("Cookie") != "" {
		t.Errorf("the caller's own credentials reached the API: Authorization %q, Cookie %q", seen.Get("Authorization"), seen.Get("Cookie"))
	}
	if seen.Get("X-Custom") != "kept" {
		t.Errorf("an ordinary header was dropped")
	}

	// Unknown connections and refused keys get clear answers.
	resp = e.proxy("GET", "conn_unknown", "me", nil, nil)
	if resp.StatusCode != 404 {
		t.Errorf("unknown connection: %d", resp.StatusCode)
	}
	texts := []string{readAll(t, resp)}
	e.assertNoCanaries(texts...)
}

func TestProxyPassesTheAPIsErrorsThrough(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	id := e.createKeyed(canaryAPIKey, "acc")
	resp := e.proxy("GET", id, "missing", nil, nil)
	if body := readAll(t, resp); resp.StatusCode != 404 {
		t.Errorf("a 404 of the API: %d %s", resp.StatusCode, body)
	}
	api.Close() // the API goes away
	resp = e.proxy("GET", id, "me", nil, nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "upstream_error") {
		t.Errorf("API down: %d %s", resp.StatusCode, body)
	}
	e.assertNoCanaries(body)
}

// authorizeOAuthy runs the authorization code flow for a new connection of
// the oauthy connector and records it in the catalog.
func authorizeOAuthy(t *testing.T, e *env, srv *oauthtest.Server, id string) {
	t.Helper()
	ctx := context.Background()
	conn := engine.Connection{ID: id, Connector: "oauthy", ConnectorParameters: oauthParams["oauthy"]}
	const redirect = "http://127.0.0.1:9/callback"
	ar, err := e.Engine.AuthorizationURL(ctx, conn, redirect)
	if err != nil {
		t.Fatal(err)
	}
	cb := srv.Authorize(t, ar.URL)
	if _, err := e.Engine.CompleteAuthorization(ctx, conn, cb.Query(), redirect, ar.State, ar.Verifier); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "oauthy", Account: "acc"}); err != nil {
		t.Fatal(err)
	}
}

var oauthParams = map[string]map[string]any{"oauthy": {"clientId": "client-1", "clientSecret": canaryClientSecret}}

func TestProxyRefreshesOn401AndReplaysSmallBodies(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret, RotateRefreshTokens: true})
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": oauthConnector(srv)}, params: oauthParams})
	authorizeOAuthy(t, e, srv, "conn_oauth")

	// The provider stops accepting the access token (revoked, say).
	ctx := context.Background()
	rec, err := e.Store.Get(ctx, "conn_oauth")
	if err != nil {
		t.Fatal(err)
	}
	rec.Credentials["access_token"] = "revoked-token"
	if _, err := e.Store.CompareAndSwap(ctx, "conn_oauth", rec.Version, rec.Credentials); err != nil {
		t.Fatal(err)
	}
	resp := e.proxy("POST", "conn_oauth", "api/me", strings.NewReader(`{"small":"body"}`), http.Header{"Content-Type": {"application/json"}})
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, oauthtest.UserID) {
		t.Fatalf("after a 401 the proxy should refresh and retry: %d %s", resp.StatusCode, body)
	}
	if n := srv.Grants("refresh_token"); n != 1 {
		t.Errorf("refresh grants: %d, want 1", n)
	}
	rec, _ = e.Store.Get(ctx, "conn_oauth")
	if rec.Credentials["access_token"] == "revoked-token" {
		t.Errorf("the refreshed token was not stored")
	}
	m := e.metricsText()
	if !strings.Contains(m, `connspec_refreshes_total{connector="oauthy"} 1`) {
		t.Errorf("metrics lack the refresh:\n%s", grepLines(m, "connspec_"))
	}
	e.assertNoCanaries(body)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// heapWatch samples the live heap until stopped and reports the peak.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

func TestProxyStreams50MBWithBoundedMemory(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	id := e.createKeyed(canaryAPIKey, "acc")
	const limit = 16 << 20 // far below the 50 MB body: nothing holds it whole

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	// Download: read slowly at first, so a buffering proxy would pile up.
	stop := heapWatch()
	resp := e.proxy("GET", id, "big", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	peak := stop()
	if err != nil || n != bigBody {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	if grew := int64(peak) - int64(base.HeapAlloc); grew > limit {
		t.Errorf("download: the heap grew by %d MB while streaming 50 MB", grew>>20)
	}

	// Upload: a 50 MB body of unknown length, generated as it is sent.
	runtime.GC()
	runtime.ReadMemStats(&base)
	stop = heapWatch()
	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("y", 64<<10)
		for range bigBody / len(chunk) {
			if _, err := io.WriteString(pw, chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	resp = e.proxy("POST", id, "upload", pr, http.Header{"Content-Type": {"application/octet-stream"}})
	body := readAll(t, resp)
	peak = stop()
	if resp.StatusCode != 200 || !strings.Contains(body, `"received":52428800`) {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	if grew := int64(peak) - int64(base.HeapAlloc); grew > limit {
		t.Errorf("upload: the heap grew by %d MB while streaming 50 MB", grew>>20)
	}
}

func TestProxyNeverSendsCredentialsToAnotherHost(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(fmt.Sprint(r.Header, r.URL), canaryAPIKey) {
			leaked.Add(1)
		}
		io.WriteString(w, "other host")
	}))
	defer other.Close()
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	id := e.createKeyed(canaryAPIKey, "acc")

	// The API redirects elsewhere: the redirect is returned, not followed.
	resp := e.proxy("GET", id, "away?to="+url.QueryEscape(other.URL+"/steal"), nil, nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != other.URL+"/steal" {
		t.Errorf("redirect: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// A path that looks like a URL stays a path of the API.
	for _, path := range []string{"http:%2F%2F" + strings.TrimPrefix(other.URL, "http://") + "/x", "%2F%2F" + strings.TrimPrefix(other.URL, "http://") + "/x"} {
		resp := e.proxy("GET", id, path, nil, nil)
		if body := readAll(t, resp); strings.Contains(body, "other host") {
			t.Errorf("proxy path %q reached the other host", path)
		}
	}
	if leaked.Load() != 0 {
		t.Errorf("credentials reached another host %d times", leaked.Load())
	}
}

func TestProxyRedactsCredentialsEchoedInErrorBodies(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	id := e.createKeyed(canaryAPIKey, "acc")
	for _, enc := range []string{"", "gzip"} {
		h := http.Header{}
		if enc != "" {
			h.Set("Accept-Encoding", enc)
		}
		resp := e.proxy("GET", id, "deny", nil, h)
		raw := readAll(t, resp)
		body := raw
		if resp.Header.Get("Content-Encoding") == "gzip" {
			t.Fatalf("%s: the error body stayed compressed, so it was not redacted", enc)
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "is not allowed here") || !strings.Contains(body, "[REDACTED]") {
			t.Errorf("%q: %d %s", enc, resp.StatusCode, body)
		}
		if cl := resp.Header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(raw)) {
			t.Errorf("%q: Content-Length %s for a body of %d bytes", enc, cl, len(raw))
		}
		e.assertNoCanaries(body)
	}
}
