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

	"github.com/connspec/connspec/internal/oauthtest"
)

// oauthConnect connects oauthy for account through a connect link of e,
// as a person does, and returns the connection's id.
func oauthConnect(t *testing.T, e *env, srv *oauthtest.Server, body map[string]any) (string, string) {
	t.Helper()
	body["redirectUrl"] = "https://app.example/done"
	link := e.connectLink(body)
	c := browserLike(t)
	resp, page := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), srv.AuthorizeURL) {
		t.Fatalf("submit: %d %s", resp.StatusCode, page)
	}
	cb := srv.Authorize(t, resp.Header.Get("Location"))
	resp, page = fetch(t, c, "GET", cb.String(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("status") != "connected" {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, loc, page)
	}
	return loc.Query().Get("connection"), page
}

// breakCredentials makes the stored credentials of id useless: the API
// refuses the access token and the provider the refresh token
// (invalid_grant), as after a revocation.
func breakCredentials(t *testing.T, e *env, id string) {
	t.Helper()
	rec, err := e.Store.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	creds := rec.Credentials
	creds["access_token"] = "revoked-access"
	creds["refresh_token"] = "revoked-refresh"
	if _, err := e.Store.CompareAndSwap(t.Context(), id, rec.Version, creds); err != nil {
		t.Fatal(err)
	}
}

func connectionState(t *testing.T, e *env, id string) string {
	t.Helper()
	status, body := e.api("GET", "/v1/connections/"+id, nil)
	var v struct{ ID, State string }
	json.Unmarshal(body, &v)
	if status != 200 || v.ID != id {
		t.Fatalf("connection %s: %d %s", id, status, body)
	}
	return v.State
}

// TestReconnectRevivesANeedsReauthConnectionInPlace: a connection whose
// refresh token the provider refuses (invalid_grant) is needs_reauth; a
// reconnect link for it goes through the provider and the callback and
// leaves the same id connected, with a token the proxy uses. Two servers
// share the store: the one that saw the connection break serves it again.
func TestReconnectRevivesANeedsReauthConnectionInPlace(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret, RequirePKCE: true})
			c := testCipher(t)
			sa, sb := sharedStores(t, kind, c)
			conns := map[string]string{"oauthy": oauthConnector(srv)}
			a := newEnv(t, envOptions{connectors: conns, params: oauthParams, store: sa, cipher: c})
			b := newEnv(t, envOptions{connectors: conns, params: oauthParams, store: sb, cipher: c})

			id, _ := oauthConnect(t, a, srv, map[string]any{"connector": "oauthy", "account": "acc-r"})
			breakCredentials(t, a, id)
			if pr := b.proxy("GET", id, "api/me", nil, nil); pr.StatusCode == 200 {
				t.Fatalf("the broken connection still works: %s", readAll(t, pr))
			} else {
				readAll(t, pr)
			}
			if st := connectionState(t, a, id); st != "needs_reauth" {
				t.Fatalf("state after invalid_grant: %s", st)
			}

			link := a.connectLink(map[string]any{"connectionId": id, "account": "acc-r", "redirectUrl": "https://app.example/done"})
			again, page := oauthConnect2(t, a, srv, link)
			if again != id {
				t.Fatalf("the reconnect made connection %q, want the same id %q", again, id)
			}
			if st := connectionState(t, b, id); st != "connected" {
				t.Fatalf("state after the reconnect: %s", st)
			}
			_, list := a.api("GET", "/v1/connections?account=acc-r", nil)
			if n := strings.Count(string(list), `"id"`); n != 1 {
				t.Errorf("%d connections for the account after a reconnect, want 1: %s", n, list)
			}
			// Both servers use the new token: the one that had the
			// connection cached as needs_reauth too.
			for name, e := range map[string]*env{"a": a, "b": b} {
				pr := e.proxy("GET", id, "api/me", nil, nil)
				if body := readAll(t, pr); pr.StatusCode != 200 || !strings.Contains(body, oauthtest.UserID) {
					t.Errorf("proxy through %s after the reconnect: %d %s", name, pr.StatusCode, body)
				}
			}
			// The link is used up.
			if resp, _ := fetch(t, browserLike(t), "GET", link, nil); resp.StatusCode != http.StatusGone {
				t.Errorf("the used reconnect link: %d", resp.StatusCode)
			}
			a.assertNoCanaries(page, string(list))
			b.assertNoCanaries()
		})
	}
}

// oauthConnect2 goes through a given connect link and returns the id the
// redirect names.
func oauthConnect2(t *testing.T, e *env, srv *oauthtest.Server, link string) (string, string) {
	t.Helper()
	c := browserLike(t)
	_, page := fetch(t, c, "GET", link, nil)
	if !strings.Contains(page, "Continue to OAuthy") {
		t.Fatalf("no OAuth button:\n%s", page)
	}
	resp, page := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), srv.AuthorizeURL) {
		t.Fatalf("submit: %d %s", resp.StatusCode, page)
	}
	cb := srv.Authorize(t, resp.Header.Get("Location"))
	resp, page = fetch(t, c, "GET", cb.String(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("status") != "connected" {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, loc, page)
	}
	return loc.Query().Get("connection"), page
}

// TestReconnectSessionChecksTheAccount: a reconnect session for another
// account's connection answers exactly as for a missing one (no existence
// leak); another connector or option is refused; account is required.
func TestReconnectSessionChecksTheAccount(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	api := newKeyAPI(t)
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": oauthConnector(srv), "keyed": keyedConnector(api.URL)}, params: oauthParams})
	id, _ := oauthConnect(t, e, srv, map[string]any{"connector": "oauthy", "account": "acc-1"})

	s1, other := e.api("POST", "/v1/connect-sessions", map[string]any{"connectionId": id, "account": "acc-2"})
	s2, missing := e.api("POST", "/v1/connect-sessions", map[string]any{"connectionId": "conn_nonexistent", "account": "acc-2"})
	if s1 != 404 || s2 != 404 || string(other) != string(missing) {
		t.Errorf("another account's connection: %d %s; a missing one: %d %s", s1, other, s2, missing)
	}
	if s, body := e.api("POST", "/v1/connect-sessions", map[string]any{"connectionId": id, "account": "acc-1", "connector": "keyed"}); s != 400 || !strings.Contains(string(body), "connector keyed") {
		t.Errorf("another connector: %d %s", s, body)
	}
	if s, body := e.api("POST", "/v1/connect-sessions", map[string]any{"connectionId": id, "account": "acc-1", "option": "other"}); s != 400 || !strings.Contains(string(body), "option") {
		t.Errorf("another option: %d %s", s, body)
	}
	if s, body := e.api("POST", "/v1/connect-sessions", map[string]any{"connector": "keyed"}); s != 400 || !strings.Contains(string(body), "account is required") {
		t.Errorf("no account: %d %s", s, body)
	}
	if s, body := e.api("POST", "/v1/connect-sessions", map[string]any{"connectionId": id, "account": "acc-1", "connector": "oauthy"}); s != 201 {
		t.Errorf("the connection's own connector: %d %s", s, body)
	}
}

// TestAbandonedOrFailedReconnectKeepsTheCredentials: a reconnect left at
// the provider, or declined there, changes nothing stored; the connection
// keeps working.
func TestAbandonedOrFailedReconnectKeepsTheCredentials(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": oauthConnector(srv)}, params: oauthParams})
	id, _ := oauthConnect(t, e, srv, map[string]any{"connector": "oauthy", "account": "acc-1"})
	before, err := e.Store.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}

	// Abandoned at the provider.
	link := e.connectLink(map[string]any{"connectionId": id, "account": "acc-1"})
	c := browserLike(t)
	resp, _ := fetch(t, c, "POST", link, url.Values{"option": {""}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("submit: %d", resp.StatusCode)
	}
	// Declined at the provider: the callback carries an error.
	au, _ := url.Parse(resp.Header.Get("Location"))
	cb, _ := url.Parse(e.URL + "/oauth/callback")
	cb.RawQuery = url.Values{"state": {au.Query().Get("state")}, "error": {"access_denied"}}.Encode()
	resp, page := fetch(t, c, "GET", cb.String(), nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a declined reconnect: %d %s", resp.StatusCode, page)
	}

	after, err := e.Store.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("the connection's credentials after a failed reconnect: %v", err)
	}
	if after.Version != before.Version || fmt.Sprint(after.Credentials) != fmt.Sprint(before.Credentials) {
		t.Errorf("a failed reconnect changed the credentials: version %d -> %d", before.Version, after.Version)
	}
	if st := connectionState(t, e, id); st != "connected" {
		t.Errorf("state after a failed reconnect: %s", st)
	}
	pr := e.proxy("GET", id, "api/me", nil, nil)
	if body := readAll(t, pr); pr.StatusCode != 200 {
		t.Errorf("proxy after a failed reconnect: %d %s", pr.StatusCode, body)
	}
	e.assertNoCanaries(page)
}

// keyAPI is an API that accepts the keys in good.
type keyAPI struct {
	*httptest.Server
	mu   sync.Mutex
	good map[string]bool
	seen []string
}

func newKeyAPI(t *testing.T, good ...string) *keyAPI {
	a := &keyAPI{good: map[string]bool{}}
	for _, k := range good {
		a.good[k] = true
	}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		k := r.Header.Get("X-Api-Key")
		a.seen = append(a.seen, k)
		if !a.good[k] {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"key": %q}`, k[:4])
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *keyAPI) last() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		return ""
	}
	return a.seen[len(a.seen)-1]
}

func (a *keyAPI) set(keys ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.good = map[string]bool{}
	for _, k := range keys {
		a.good[k] = true
	}
}

// TestReconnectWithAFormReplacesTheAPIKeyOnEveryServer: an API-key
// connection is reconnected through the connect form: a key the API
// refuses changes nothing; a good one replaces the old key under the same
// id, and a second server that had the connection's client cached sends
// the new key.
func TestReconnectWithAFormReplacesTheAPIKeyOnEveryServer(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			const oldKey, newKey = "key-old-" + canaryAPIKey, "key-new-" + canaryAPIKey
			api := newKeyAPI(t, oldKey)
			c := testCipher(t)
			sa, sb := sharedStores(t, kind, c)
			conns := map[string]string{"keyed": keyedConnector(api.URL)}
			a := newEnv(t, envOptions{connectors: conns, store: sa, cipher: c})
			b := newEnv(t, envOptions{connectors: conns, store: sb, cipher: c})
			status, body := a.api("POST", "/v1/connections", map[string]any{"connector": "keyed", "account": "acc-k", "input": map[string]any{"apiKey": oldKey}})
			var made struct{ ID string }
			json.Unmarshal(body, &made)
			if status != 201 {
				t.Fatalf("create: %d %s", status, body)
			}
			id := made.ID
			if pr := b.proxy("GET", id, "me", nil, nil); pr.StatusCode != 200 || api.last() != oldKey {
				t.Fatalf("proxy before: %d %s", pr.StatusCode, readAll(t, pr))
			}

			api.set(oldKey, newKey)
			link := a.connectLink(map[string]any{"connectionId": id, "account": "acc-k"})
			br := browserLike(t)
			resp, page := fetch(t, br, "POST", link, url.Values{"f_apiKey": {"key-wrong"}, "f_region": {"eu"}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("a refused key: %d %s", resp.StatusCode, page)
			}
			if rec, err := a.Store.Get(t.Context(), id); err != nil || rec.Credentials["apiKey"] != oldKey {
				t.Fatalf("a refused reconnect changed the stored key (%v)", err)
			}
			resp, page = fetch(t, br, "POST", link, url.Values{"f_apiKey": {newKey}, "f_region": {"eu"}})
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Connected to") {
				t.Fatalf("reconnect: %d %s", resp.StatusCode, page)
			}
			api.set(newKey) // the old key is revoked
			for name, e := range map[string]*env{"a": a, "b": b} {
				deadline := time.Now().Add(10 * time.Second)
				for {
					pr := e.proxy("GET", id, "me", nil, nil)
					body := readAll(t, pr)
					if pr.StatusCode == 200 && api.last() == newKey {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("server %s still does not use the new key: %d %s", name, pr.StatusCode, body)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			_, list := a.api("GET", "/v1/connections?account=acc-k", nil)
			if n := strings.Count(string(list), `"id"`); n != 1 || !strings.Contains(string(list), id) {
				t.Errorf("connections after the reconnect: %s", list)
			}
			a.assertNoCanaries(page, string(list))
			b.assertNoCanaries()
		})
	}
}

// TestReconnectedTokenIsUsedByEveryServer: a connected OAuth connection is
// reconnected through one server while another has its client cached: the
// other sends the new access token within its recheck interval.
func TestReconnectedTokenIsUsedByEveryServer(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
			var mu sync.Mutex
			var lastAuth string
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				lastAuth = r.Header.Get("Authorization")
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"ok": true}`)
			}))
			t.Cleanup(api.Close)
			seen := func() string { mu.Lock(); defer mu.Unlock(); return lastAuth }
			c := testCipher(t)
			sa, sb := sharedStores(t, kind, c)
			conns := map[string]string{"oauthy": strings.Replace(oauthConnector(srv), "baseUri: "+srv.URL, "baseUri: "+api.URL, 1)}
			a := newEnv(t, envOptions{connectors: conns, params: oauthParams, store: sa, cipher: c})
			b := newEnv(t, envOptions{connectors: conns, params: oauthParams, store: sb, cipher: c})

			id, _ := oauthConnect(t, a, srv, map[string]any{"connector": "oauthy", "account": "acc-t"})
			if pr := b.proxy("GET", id, "x", nil, nil); pr.StatusCode != 200 {
				t.Fatalf("proxy: %d %s", pr.StatusCode, readAll(t, pr))
			} else {
				readAll(t, pr)
			}
			old := seen()
			link := a.connectLink(map[string]any{"connectionId": id, "account": "acc-t", "redirectUrl": "https://app.example/done"})
			if again, _ := oauthConnect2(t, a, srv, link); again != id {
				t.Fatalf("reconnect made %q, want %q", again, id)
			}
			rec, err := a.Store.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			want := "Bearer " + fmt.Sprint(rec.Credentials["access_token"])
			if want == old {
				t.Fatal("the reconnect stored the old access token")
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				pr := b.proxy("GET", id, "x", nil, nil)
				readAll(t, pr)
				if pr.StatusCode == 200 && seen() == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("server b still sends the old token after the reconnect (status %d)", pr.StatusCode)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
