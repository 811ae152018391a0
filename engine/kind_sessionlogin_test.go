package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// loginServer is a loopback API that takes a username and password at
// POST /login (JSON), answers a session token that lives expiresIn
// seconds, and serves /v1/* to the latest token only (else 401, or with
// sessionEnded a 200 that says the session ended, as Zabbix does).
type loginServer struct {
	t            testing.TB
	srv          *httptest.Server
	user, pwd    string
	expiresIn    int
	logins       atomic.Int64
	exchanges    atomic.Int64
	apiCalls     atomic.Int64
	delay        time.Duration
	sessionEnded bool
	// statuses, when set, are the login's answers, one per login, before
	// it succeeds.
	mu       sync.Mutex
	statuses []int
	failures []string
}

func newLoginServer(t testing.TB) *loginServer {
	s := &loginServer{t: t, user: "ada", pwd: "pw-canary-7f3e91", expiresIn: 3600}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *loginServer) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func (s *loginServer) check() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		s.t.Error("login server: " + f)
	}
}

func (s *loginServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/login":
		s.login(w, r)
	case strings.HasPrefix(r.URL.Path, "/sites/"):
		s.exchange(w, r)
	default:
		s.api(w, r)
	}
}

func (s *loginServer) login(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.delay)
	s.mu.Lock()
	var status int
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		// A careless server echoes what it was sent.
		fmt.Fprintf(w, `{"error":"login failed for %s/%s"}`, s.user, s.pwd)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		s.fail("login %s with %q", r.Method, r.Header.Get("Content-Type"))
	}
	var body struct {
		Credentials struct{ Name, Password string }
	}
	json.NewDecoder(r.Body).Decode(&body)
	if body.Credentials.Name != s.user || body.Credentials.Password != s.pwd {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"bad credentials"}`))
		return
	}
	n := s.logins.Add(1)
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: fmt.Sprintf("js-%d", n)})
	fmt.Fprintf(w, `{"credentials":{"token":"tok-%d","site":{"id":"site-9"}},"expires_in":%d}`, n, s.expiresIn)
}

// exchange is a second step: /sites/{id}/session trades the temporary
// token (X-Temp) for a session in a header.
func (s *loginServer) exchange(w http.ResponseWriter, r *http.Request) {
	want := fmt.Sprintf("tok-%d", s.logins.Load())
	if r.URL.Path != "/sites/site-9/session" || r.Header.Get("X-Temp") != want {
		s.fail("exchange %s with X-Temp %q, want %q", r.URL.Path, r.Header.Get("X-Temp"), want)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n := s.exchanges.Add(1)
	w.Header().Set("X-Session", fmt.Sprintf("sess-%d", n))
	w.Write([]byte(`{}`))
}

func (s *loginServer) api(w http.ResponseWriter, r *http.Request) {
	s.apiCalls.Add(1)
	want := fmt.Sprintf("tok-%d", s.logins.Load())
	if got := r.Header.Get("X-Auth"); got != want {
		if s.sessionEnded {
			w.Write([]byte(`{"error":{"data":"Session terminated, re-login, please."}}`))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"got %q"}`, got)
		return
	}
	w.Write([]byte(`{"ok":true}`))
}

// loginConnector logs in with a JSON body and sends the token in X-Auth.
const loginConnector = `name: L
key: c
auth:
  type: session-login
  ui:
    schema:
      type: object
      properties:
        username: {type: string}
        password: {type: string, format: password}
  getSessionLoginConfig:
    mapping:
      steps:
        - name: signin
          url: {{URL}}/login
          json:
            credentials:
              name: {$var: connectionInput.username}
              password: {$var: connectionInput.password}
          extract:
            token: credentials.token
            siteId: {body: credentials.site.id}
            expires_in: expires_in
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        X-Auth: {$var: credentials.token}
`

func (s *loginServer) conn() Connection {
	return Connection{ConnectionParameters: map[string]any{"username": s.user, "password": s.pwd}}
}

// TestSessionLoginEndToEnd: the first call logs in, later calls reuse the
// session, and it is logged in again a margin before it expires, not after.
func TestSessionLoginEndToEnd(t *testing.T) {
	ls := newLoginServer(t)
	e := newEngine(t, ls.srv, loginConnector)
	clock := newJWTClock()
	e.now = clock.now
	cl := mustClient(t, e, ls.conn())
	if n := ls.logins.Load(); n != 0 {
		t.Errorf("%d logins before the first call, want 0", n)
	}
	for range 3 {
		if got := get(t, cl, "/me"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
	}
	if n := ls.logins.Load(); n != 1 {
		t.Errorf("%d logins for 3 calls, want 1", n)
	}
	creds := cl.Credentials()
	if creds["token"] != "tok-1" || creds["siteId"] != "site-9" || creds["expires_at"] == nil || creds["expires_in"] != nil {
		t.Errorf("credentials %v", creds)
	}
	clock.add(3600*time.Second - 90*time.Second)
	get(t, cl, "/me")
	if n := ls.logins.Load(); n != 1 {
		t.Errorf("logged in again 90s before expiry")
	}
	clock.add(60 * time.Second)
	if got := get(t, cl, "/me"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	if n := ls.logins.Load(); n != 2 {
		t.Errorf("%d logins after the margin was reached, want 2", n)
	}
	ls.check()
}

// multiStepConnector: a first step's token and site id feed a second step
// (in a header and the URL path), whose answer gives the session in a
// header; a cookie of the first answer is kept too. The session's lifetime
// is declared.
const multiStepConnector = `name: M
key: c
auth:
  type: session-login
  ui:
    schema:
      type: object
      properties:
        username: {type: string}
        password: {type: string, format: password}
  getSessionLoginConfig:
    mapping:
      lifetime: 600
      steps:
        - url: {{URL}}/login
          json:
            credentials: {name: {$var: connectionInput.username}, password: {$var: connectionInput.password}}
          extract:
            temp: credentials.token
            site: credentials.site.id
            jsession: {cookie: JSESSIONID}
        - name: exchange
          url: "{{URL}}/sites/{{site}}/session"
          headers: {X-Temp: "{{ temp }}"}
          extract:
            session: {header: X-Session}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        X-Auth: {$var: credentials.temp}
        X-Session: {$var: credentials.session}
        Cookie: {$concat: ["JSESSIONID=", {$var: credentials.jsession}]}
`

// TestSessionLoginMultiStep: a later step uses what an earlier one
// extracted; every extracted value reaches makeApiClient's credentials;
// the declared lifetime sets the expiry.
func TestSessionLoginMultiStep(t *testing.T) {
	ls := newLoginServer(t)
	e := newEngine(t, ls.srv, multiStepConnector)
	clock := newJWTClock()
	e.now = clock.now
	cl := mustClient(t, e, ls.conn())
	if got := get(t, cl, "/me"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	creds := cl.Credentials()
	want := map[string]any{"temp": "tok-1", "site": "site-9", "jsession": "js-1", "session": "sess-1"}
	for k, v := range want {
		if creds[k] != v {
			t.Errorf("credentials[%s] = %v, want %v", k, creds[k], v)
		}
	}
	exp := parseExpiresAt(creds["expires_at"])
	if d := exp.Sub(clock.now()); d < 599*time.Second || d > 600*time.Second {
		t.Errorf("expires in %v, want the declared 600s", d)
	}
	if ls.exchanges.Load() != 1 {
		t.Errorf("%d exchanges", ls.exchanges.Load())
	}
	ls.check()
}

// TestSessionLoginStorm: 20 concurrent requests on an expired session
// across two engines sharing one SQLite store make exactly one login.
func TestSessionLoginStorm(t *testing.T) {
	ls := newLoginServer(t)
	stores := faultSQLiteStores(t, 2)
	clock := newJWTClock()
	conn := ls.conn()
	conn.ID = "sl-1"
	var clients []*Client
	for _, s := range stores {
		e := newEngine(t, ls.srv, loginConnector, WithStore(s))
		e.now = clock.now
		clients = append(clients, mustClient(t, e, conn))
	}
	get(t, clients[0], "/me") // the first login, stored
	clock.add(2 * time.Hour)  // expired
	getConcurrently(t, clients, 20, "/me", "map[ok:true]")
	if n := ls.logins.Load(); n != 2 {
		t.Errorf("%d logins for 20 concurrent calls on an expired session across two engines, want 1 after the first", n-1)
	}
	rec, err := stores[1].Get(context.Background(), "sl-1")
	if err != nil || rec.Credentials["token"] != "tok-2" {
		t.Errorf("the store holds %v (%v), want tok-2", rec.Credentials["token"], err)
	}
	ls.check()
}

// TestSessionLoginSessionEnded: the API ending the session mid-traffic (a
// 401, or a 200 a response handler reads as access_token_expired) logs in
// once again and replays the requests, concurrent ones included.
func TestSessionLoginSessionEnded(t *testing.T) {
	handlers := strings.Replace(loginConnector, "        X-Auth: {$var: credentials.token}\n",
		"        X-Auth: {$var: credentials.token}\n      responseHandlers:\n        - match: {$eval: {$var: response.data.error.data}, is: \"Session terminated, re-login, please.\"}\n          error: {key: access_token_expired, message: session ended}\n", 1)
	for name, src := range map[string]string{"401": loginConnector, "handler": handlers} {
		t.Run(name, func(t *testing.T) {
			ls := newLoginServer(t)
			ls.sessionEnded = name == "handler"
			cl := mustClient(t, newEngine(t, ls.srv, src), ls.conn())
			get(t, cl, "/me")
			ls.logins.Add(1) // the server ends the session: tok-1 is refused from now on
			getConcurrently(t, []*Client{cl}, 10, "/me", "map[ok:true]")
			if n := ls.logins.Load(); n != 3 {
				t.Errorf("%d logins after the session ended, want 1", n-2)
			}
			ls.check()
		})
	}
}

// TestSessionLoginRefused: a login refused with 401 or 403 makes the
// connection need a new authorization (needs_reauth in the store); later
// requests fail fast without logging in again.
func TestSessionLoginRefused(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			ls := newLoginServer(t)
			ls.statuses = []int{status, status, status}
			stores := faultSQLiteStores(t, 1)
			conn := ls.conn()
			conn.ID = "sl-r"
			var attempts atomic.Int64
			mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/login" {
					attempts.Add(1)
				}
				ls.ServeHTTP(w, r)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			cl := mustClient(t, newEngine(t, srv, loginConnector, WithStore(stores[0])), conn)
			for range 3 {
				_, err := cl.Get(context.Background(), "/me")
				var ce *ConnectionError
				if !errors.As(err, &ce) || ce.Key != KeyConnectionIsDefunct || !strings.Contains(ce.Message, "login was refused") {
					t.Fatalf("want a defunct connection, got %v", err)
				}
			}
			if n := attempts.Load(); n != 1 {
				t.Errorf("%d login attempts for 3 calls, want 1", n)
			}
			rec, err := stores[0].Get(context.Background(), "sl-r")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if err == nil && rec.State.Status != store.StatusNeedsReauth {
				t.Errorf("store state %q, want needs_reauth", rec.State.Status)
			}
		})
	}
}

// TestSessionLoginFaults: a login that fails with a 5xx is retried on the
// next call (not defunct); before expiry a failed re-login keeps the
// current session in use; a slow login under concurrent requests is one
// login.
func TestSessionLoginFaults(t *testing.T) {
	t.Run("500 then OK", func(t *testing.T) {
		ls := newLoginServer(t)
		ls.statuses = []int{http.StatusInternalServerError}
		cl := mustClient(t, newEngine(t, ls.srv, loginConnector), ls.conn())
		_, err := cl.Get(context.Background(), "/me")
		if err == nil || errors.Is(err, ErrConnectionIsDefunct) || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("want a passing failure naming HTTP 500, got %v", err)
		}
		if got := get(t, cl, "/me"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("renewal fails before expiry", func(t *testing.T) {
		ls := newLoginServer(t)
		e := newEngine(t, ls.srv, loginConnector)
		clock := newJWTClock()
		e.now = clock.now
		cl := mustClient(t, e, ls.conn())
		get(t, cl, "/me")
		ls.statuses = []int{http.StatusBadGateway}
		clock.add(3600*time.Second - 30*time.Second) // inside the margin, still valid
		if got := get(t, cl, "/me"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
		if got := get(t, cl, "/me"); got["ok"] != true || ls.logins.Load() != 2 {
			t.Fatalf("got %v after %d logins, want the second login", got, ls.logins.Load())
		}
	})
	t.Run("slow login, concurrent requests", func(t *testing.T) {
		ls := newLoginServer(t)
		ls.delay = 200 * time.Millisecond
		cl := mustClient(t, newEngine(t, ls.srv, loginConnector), ls.conn())
		getConcurrently(t, []*Client{cl}, 10, "/me", "map[ok:true]")
		if n := ls.logins.Load(); n != 1 {
			t.Errorf("%d logins for 10 concurrent first calls, want 1", n)
		}
	})
}

// TestSessionLoginConfigRefused: a configuration the login cannot use as
// written is an error naming the key, at connect time, never a login with
// part of it dropped.
func TestSessionLoginConfigRefused(t *testing.T) {
	ls := newLoginServer(t)
	step := "        - name: signin\n"
	cont := "          name: signin\n" // the step continues
	for name, c := range map[string]struct{ edit, want string }{
		"unknown result key":   {"      lifetme: 60\n      steps:\n", `has no key "lifetme"`},
		"unknown step key":     {"      steps:\n        - nmae: signin\n", `steps[0] has key "nmae"`},
		"unknown source":       {"      steps:\n        - url: {{URL}}/login\n          extract: {x: {json: a}}\n" + step, `has no key "json"`},
		"later placeholder":    {"      steps:\n        - headers: {X: \"{{token}}\"}\n" + cont, "uses {{token}}, which no earlier step extracts"},
		"placeholder in host":  {"      steps:\n        - url: {{URL}}/login\n          extract: {x: a}\n        - url: \"https://{{x}}.example.com/a\"\n          extract: {y: b}\n" + step, "takes its host from a login answer"},
		"json and form":        {"      steps:\n        - form: {a: b}\n" + cont, "both json and form"},
		"lifetime zero":        {"      lifetime: 0\n      steps:\n", "at least 1 second"},
		"bad method":           {"      steps:\n        - method: DELETE\n" + cont, "method must be one of"},
		"duplicate extract":    {"      steps:\n        - url: {{URL}}/login\n          extract: {token: a}\n" + step, "extracts token already"},
		"no steps":             {"      steps: []\n      x_steps:\n", "has no key"},
		"basicAuth other keys": {"      steps:\n        - basicAuth: {user: a}\n" + cont, `has key "user"`},
	} {
		t.Run(name, func(t *testing.T) {
			src := strings.ReplaceAll(strings.Replace(loginConnector, "      steps:\n"+step, c.edit, 1), "{{URL}}", ls.srv.URL)
			e := New()
			if _, diags := e.LoadFS(fsOf(src), "c.yml"); diags.HasErrors() {
				if !strings.Contains(diags.Error(), c.want) {
					t.Errorf("load: %v, want %q", diags, c.want)
				}
				return
			}
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: ls.conn().ConnectionParameters})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), ls.pwd) {
				t.Errorf("the error shows the password: %v", err)
			}
			if n := ls.logins.Load(); n != 0 {
				t.Errorf("%d logins", n)
			}
		})
	}
}

// TestSessionLoginHostIsTheAuthors: a login URL whose host a user typed
// must match a pattern the author declared; otherwise the password is
// sent nowhere.
func TestSessionLoginHostIsTheAuthors(t *testing.T) {
	ls := newLoginServer(t)
	js := `name: L
key: c
auth:
  type: session-login
  allowedHosts: ["*.jamfcloud.com"]
  ui:
    schema:
      type: object
      properties:
        server: {type: string}
        password: {type: string, format: password}
  getSessionLoginConfig:
    implementationType: javascript
    code: |
      export default ({connectionInput}) => ({steps: [{url: "https://" + connectionInput.server + "/api/v1/auth/token",
        basicAuth: {username: "u", password: connectionInput.password}, extract: {token: "token"}}]})
  makeApiClient:
    mapping:
      baseUri: https://acme.jamfcloud.com
`
	rt := &recordingTransport{}
	for _, server := range []string{"evil.example.com", "jamfcloud.com.evil.example.com", "acme.jamfcloud.com:8443", "127.0.0.1"} {
		t.Run(server, func(t *testing.T) {
			_, err := newEngine(t, nil, js, WithTransport(rt)).Client(context.Background(), Connection{Connector: "c",
				ConnectionParameters: map[string]any{"server": server, "password": ls.pwd}})
			var he *HostError
			if !errors.As(err, &he) || he.Field != "steps[0].url" {
				t.Fatalf("want a HostError for steps[0].url, got %v", err)
			}
		})
	}
	if sent := rt.sent(); len(sent) != 0 {
		t.Errorf("requests were sent to %v", sent)
	}
	// The pattern the author declared admits a tenant's own host.
	if _, err := newEngine(t, nil, js, WithTransport(rt)).Client(context.Background(), Connection{Connector: "c",
		ConnectionParameters: map[string]any{"server": "acme.jamfcloud.com", "password": ls.pwd}}); err != nil {
		t.Errorf("acme.jamfcloud.com: %v", err)
	}
}

// TestSessionLoginPasswordNeverShown: the password (a canary) and a first
// step's temporary token appear in no error, log line or redacted text,
// whatever fails: a login answer that echoes them, a refused login.
func TestSessionLoginPasswordNeverShown(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusUnauthorized, http.StatusBadRequest} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			ls := newLoginServer(t)
			ls.statuses = []int{status}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cl := mustClient(t, newEngine(t, ls.srv, loginConnector, WithLogger(logger)), ls.conn())
			_, err := cl.Get(context.Background(), "/me")
			if err == nil {
				t.Fatal("no error")
			}
			for where, out := range map[string]string{"error": err.Error(), "Redact": cl.Redact("pw " + ls.pwd), "log": logs.String()} {
				if strings.Contains(out, ls.pwd) {
					t.Errorf("the password shows in the %s: %s", where, out)
				}
			}
		})
	}
}

// TestSessionLoginBracedPassword: a password that looks like a reference
// ("{{temp}}") is sent as typed, in one-step and multi-step logins alike,
// never filled with an earlier step's value nor refused.
func TestSessionLoginBracedPassword(t *testing.T) {
	for name, src := range map[string]string{"one step": loginConnector, "two steps": multiStepConnector} {
		t.Run(name, func(t *testing.T) {
			ls := newLoginServer(t)
			ls.pwd = "p{{temp}}w{{ token }}{{nope}}"
			cl := mustClient(t, newEngine(t, ls.srv, src), ls.conn())
			if got := get(t, cl, "/me"); got["ok"] != true {
				t.Fatalf("got %v", got)
			}
			ls.check()
		})
	}
}

// TestSessionLoginHostProbedAtLoad: a mapping whose login URL takes its
// host from connection input, with no pattern the author declared, is
// refused by validate, before any connection exists.
func TestSessionLoginHostProbedAtLoad(t *testing.T) {
	src := strings.Replace(loginConnector, "          url: {{URL}}/login\n",
		"          url: {$concat: [\"https://\", {$var: connectionInput.username}, \"/login\"]}\n", 1)
	src = strings.ReplaceAll(src, "{{URL}}", "https://api.example.com")
	_, diags := New().LoadFS(fsOf(src), "c.yml")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "steps[0].url takes its host from connection input") {
		t.Errorf("load: %v, want the login URL's host refused", diags)
	}
}

// TestSessionLoginUnmarkedSecretRedacted: a password sent under a secret's
// name (here in the login URL's query) is redacted even when the form does
// not mark its field format: password, whatever error quotes the URL.
func TestSessionLoginUnmarkedSecretRedacted(t *testing.T) {
	ls := newLoginServer(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close() // the login URL refuses connections: the error quotes it
	// The field's name says nothing; the query parameter's does.
	src := strings.NewReplacer("        password: {type: string, format: password}\n", "        pin: {type: string}\n",
		"          url: {{URL}}/login\n", "          url: "+dead+"/login\n          query: {password: {$var: connectionInput.pin}}\n").Replace(loginConnector)
	cl := mustClient(t, newEngine(t, ls.srv, src), Connection{ConnectionParameters: map[string]any{"username": ls.user, "pin": ls.pwd}})
	_, err := cl.Get(context.Background(), "/me")
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "password=") {
		t.Fatalf("the error does not quote the login URL: %v", err)
	}
	if strings.Contains(err.Error(), ls.pwd) || strings.Contains(cl.Redact(ls.pwd), ls.pwd) {
		t.Errorf("the password shows: %v", err)
	}
}
