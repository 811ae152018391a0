package engine_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/jsrt"
	"github.com/connspec/connspec/engine/store"
)

// The hostile-input corpus (testdata/hostile, see its README.md) and the
// cases generated here because they are big. Every case must end in a clear
// error (its "expect" text) or, where the input is acceptable, in a result
// that is safe; within hostileBound, without a panic, without a secret of
// the case in the error, with the process alive, and with the credentials
// stored before a hostile token response still there, unchanged.

// hostileBound is the wall time any one hostile operation may take; a case
// that takes longer fails (and does not stall the run).
const hostileBound = 10 * time.Second

// hostileJS are the JavaScript limits of the engines the corpus runs on:
// the engine's defaults (10s, 512 MiB of heap growth) made smaller, so the
// run is quick; the limits themselves are what is tested. The heap limit
// is this small only for the cases that run one at a time (groupSerial):
// it watches the heap of the whole process, which cases running in
// parallel share.
// The output budget is small too (1 Mi characters, 64 Ki elements), so that
// cases that exceed it stay cheap under the race detector.
var hostileJS = jsrt.Options{Timeout: time.Second, MaxHeapGrowth: 32 << 20, MaxStringLength: 1 << 20, MaxArrayLength: 1 << 16}

// hostileTokenDeadline is the caller's deadline in the token-endpoint cases
// that never answer (the engine's own limit, 30s, is too long for a test).
const hostileTokenDeadline = time.Second

const hostileDir = "../testdata/hostile"

// hostileCase is one entry of the corpus.
type hostileCase struct {
	name     string // category/file
	category string
	// group says with what a case may run at the same time; JavaScript
	// memory limits watch the heap of the whole process, so what allocates
	// much must not run next to JavaScript that is expected to meet
	// another limit.
	group caseGroup
	run   func(t *testing.T, env *hostileEnv)
}

type caseGroup int

const (
	// groupOther cases run in parallel with each other, no JavaScript
	// among them.
	groupOther caseGroup = iota
	// groupJS cases run JavaScript that allocates little, in parallel.
	groupJS
	// groupSerial cases allocate much (or are JavaScript that does): one
	// at a time.
	groupSerial
)

// hostileEnv holds the servers every case shares.
type hostileEnv struct {
	api *httptest.Server // the connectors' API: answers any request
	// evil is another host: no request may ever reach it.
	evil     *httptest.Server
	mu       sync.Mutex
	evilHits []string
}

func newHostileEnv(t *testing.T) *hostileEnv {
	env := &hostileEnv{}
	env.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"id":"acct_1"}`))
	}))
	env.evil = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.mu.Lock()
		env.evilHits = append(env.evilHits, r.Method+" "+r.URL.String())
		env.mu.Unlock()
		w.Write([]byte(`{"stolen":true}`))
	}))
	t.Cleanup(env.api.Close)
	t.Cleanup(env.evil.Close)
	return env
}

// expand fills in the placeholders of corpus files.
func (env *hostileEnv) expand(s, caseName string) string {
	u, _ := url.Parse(env.evil.URL)
	api, _ := url.Parse(env.api.URL)
	return strings.NewReplacer(
		"{{URL}}", env.api.URL,
		"{{API_HOST}}", api.Host,
		"{{EVIL}}", env.evil.URL+"/"+url.PathEscape(caseName),
		"{{EVIL_HOST}}", u.Host,
	).Replace(s)
}

// attempt runs one hostile operation with the bound enforced: the context
// ends at the bound, and a goroutine that has not answered a second later
// fails the case. A panic fails it too.
func attempt(t *testing.T, deadline time.Duration, op func(ctx context.Context) error) (error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	type result struct {
		err   error
		panic any
		stack []byte
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p, stack: debug.Stack()}
			}
		}()
		done <- result{err: op(ctx)}
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("panic: %v\n%s", r.panic, r.stack)
		}
		took := time.Since(start)
		if took > hostileBound {
			t.Errorf("answered after %v, more than %v", took, hostileBound)
		}
		return r.err, took
	case <-time.After(hostileBound + time.Second):
		t.Fatalf("no answer within %v", hostileBound)
	}
	return nil, 0
}

// checkError asserts that err is the clear error expected, and that it
// shows none of the secrets.
func checkError(t *testing.T, err error, expect string, secrets []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", expect)
	}
	if errors.Is(err, errDidNotLoad) {
		t.Fatal(err)
	}
	msg := err.Error()
	if !strings.Contains(msg, expect) {
		t.Errorf("error does not say %q:\n%s", expect, msg)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error shows the secret %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "%!") {
		t.Errorf("error text carries a formatting mistake: %s", msg)
	}
	if strings.ContainsAny(msg, "\r\x00\x1b") {
		t.Errorf("error carries control characters: %q", msg)
	}
}

// directives reads the header of a corpus file: leading lines "# key: value"
// (or "// key: value" in JavaScript). Every file needs an expect or accept.
func directives(t *testing.T, name string, data []byte, prefix string) map[string]string {
	d := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			break
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, prefix), ":")
		if !ok {
			break
		}
		d[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if d["expect"] == "" && d["accept"] == "" {
		t.Fatalf("%s: the first line must be %sexpect: <part of the error> (or %saccept: <why it is fine>)", name, prefix, prefix)
	}
	return d
}

// canaries are the string values that contain "canary": the secrets of a
// case, which no error may show.
func canaries(values ...any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			if strings.Contains(t, "canary") {
				out = append(out, t)
			}
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	for _, v := range values {
		walk(v)
	}
	return out
}

func jsonObject(t *testing.T, name, s string) map[string]any {
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: bad JSON %s: %v", name, s, err)
	}
	return m
}

// copyConnector copies a connector file or directory to dir, expanding the
// placeholders, and returns the path to load.
func (env *hostileEnv) copyConnector(t *testing.T, src, dir, caseName string) string {
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, filepath.Base(src))
	if !info.IsDir() {
		data, _ := os.ReadFile(src)
		if err := os.WriteFile(target, []byte(env.expand(string(data), caseName)), 0o644); err != nil {
			t.Fatal(err)
		}
		return target
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(target, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, []byte(env.expand(string(data), caseName)), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// hostileEngine returns an engine for a case of group g.
func hostileEngine(g caseGroup) *engine.Engine {
	js := hostileJS
	if g != groupSerial {
		js.MaxHeapGrowth = 0 // the default
	}
	return engine.New(engine.WithJSOptions(js))
}

// errDidNotLoad is returned by runConnector for a connector that should
// have loaded; the case fails.
var errDidNotLoad = errors.New("the connector does not load")

// runConnector loads a connector and takes it as far as phase: "load" (the
// diagnostics), "client" (engine.Client), "test" (Client.Test) or "get"
// (Client.Get of /hostile). It returns the first error.
func runConnector(ctx context.Context, e *engine.Engine, path, phase string, conn engine.Connection) error {
	cc, diags := e.Load(path)
	if phase == "load" {
		if diags.HasErrors() {
			return diags
		}
		return nil
	}
	if diags.HasErrors() {
		return fmt.Errorf("%w (phase %q): %w", errDidNotLoad, phase, diags)
	}
	conn.Connector = cc.Spec.Key
	cl, err := e.Client(ctx, conn)
	if err != nil || phase == "client" {
		return err
	}
	switch phase {
	case "test":
		return cl.Test(ctx)
	case "get":
		_, err := cl.Get(ctx, "/hostile")
		return err
	}
	return fmt.Errorf("unknown phase %q", phase)
}

// specCases are testdata/hostile/specs: connector files and directories
// whose header says what must happen.
func specCases(t *testing.T) []hostileCase {
	entries, err := os.ReadDir(filepath.Join(hostileDir, "specs"))
	if err != nil {
		t.Fatal(err)
	}
	var out []hostileCase
	for _, e := range entries {
		src := filepath.Join(hostileDir, "specs", e.Name())
		header := src
		if e.IsDir() {
			header = filepath.Join(src, "spec.yml")
		} else if !strings.HasSuffix(e.Name(), ".yml") && !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(header)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		d := directives(t, header, data, "#")
		category := d["category"]
		if category == "" {
			category, _, _ = strings.Cut(name, "-")
		}
		group := groupOther
		if bytes.Contains(data, []byte("code:")) || e.IsDir() {
			group = groupJS
		}
		if d["serial"] == "true" {
			group = groupSerial
		}
		out = append(out, hostileCase{
			name: "specs/" + name, category: category, group: group,
			run: func(t *testing.T, env *hostileEnv) {
				input := jsonObject(t, name, env.expand(d["input"], name))
				params := jsonObject(t, name, d["connector-parameters"])
				phase := cmpOr(d["phase"], "load")
				path := env.copyConnector(t, src, t.TempDir(), name)
				err, _ := attempt(t, hostileBound, func(ctx context.Context) error {
					return runConnector(ctx, hostileEngine(group), path, phase, engine.Connection{ConnectionParameters: input, ConnectorParameters: params})
				})
				if d["accept"] != "" {
					if err != nil {
						t.Fatalf("accepted input failed: %v", err)
					}
					return
				}
				checkError(t, err, d["expect"], canaries(input, params))
			},
		})
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jsCases are testdata/hostile/js: one method body each, run as a method of
// a directory connector (auth/<method>.js) whose other methods are sane.
func jsCases(t *testing.T) []hostileCase {
	files, err := filepath.Glob(filepath.Join(hostileDir, "js", "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JavaScript cases: %v", err)
	}
	var out []hostileCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".js")
		d := directives(t, f, data, "//")
		group := groupJS
		if d["serial"] == "true" || strings.HasPrefix(name, "alloc") {
			group = groupSerial
		}
		out = append(out, hostileCase{
			name: "js/" + name, category: "js", group: group,
			run: func(t *testing.T, env *hostileEnv) {
				method := cmpOr(d["method"], "test")
				secret := "canary-js-" + name
				input := map[string]any{"apiKey": secret}
				for k, v := range jsonObject(t, name, d["input"]) {
					input[k] = v
				}
				dir := filepath.Join(t.TempDir(), "hostile-js")
				writeJSConnector(t, env, dir, method, env.expand(string(data), name))
				phase := map[string]string{"test": "test", "makeApiClient": "client", "getCredentialsFromConnectionParameters": "client", "refreshCredentials": "get"}[method]
				if d["phase"] != "" {
					phase = d["phase"]
				}
				if phase == "" {
					t.Fatalf("unknown method %q", method)
				}
				err, _ := attempt(t, hostileBound, func(ctx context.Context) error {
					return runConnector(ctx, hostileEngine(group), dir, phase, engine.Connection{ConnectionParameters: input})
				})
				if d["accept"] != "" {
					if err != nil {
						t.Fatalf("accepted method failed: %v", err)
					}
					return
				}
				checkError(t, err, d["expect"], []string{secret})
			},
		})
	}
	return out
}

// writeJSConnector writes a connector whose method is the hostile code.
func writeJSConnector(t *testing.T, env *hostileEnv, dir, method, code string) {
	files := map[string]string{
		"spec.yml": `key: hostile-js
name: Hostile JavaScript
auth:
  type: client-credentials
  makeApiClient:
    implementationType: ` + map[bool]string{true: "javascript", false: "mapping"}[method == "makeApiClient"] + `
` + map[string]string{
			"test":                                   "  test:\n    implementationType: javascript\n",
			"getCredentialsFromConnectionParameters": "  getCredentialsFromConnectionParameters:\n    implementationType: javascript\n",
			"refreshCredentials":                     "  refreshCredentials:\n    implementationType: javascript\n",
		}[method],
		"auth/make-api-client.map.yml": "baseUri: " + env.api.URL + "\nheaders:\n  X-Api-Key: {$var: credentials.apiKey}\n",
	}
	kebab := map[string]string{"test": "test", "makeApiClient": "make-api-client", "getCredentialsFromConnectionParameters": "get-credentials-from-connection-parameters", "refreshCredentials": "refresh-credentials"}[method]
	files["auth/"+kebab+".js"] = code
	if method == "makeApiClient" {
		delete(files, "auth/make-api-client.map.yml")
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// inputCase is an entry of testdata/hostile/input/cases.json: connection
// input given to one of the connectors in that folder.
type inputCase struct {
	Name      string         `json:"name"`
	Connector string         `json:"connector"`
	Phase     string         `json:"phase"`
	Input     map[string]any `json:"input"`
	// Expect is part of the error; when empty, the input is accepted and
	// the base URL must stay on Host.
	Expect string `json:"expect"`
	Host   string `json:"host"`
}

func inputCases(t *testing.T) []hostileCase {
	data, err := os.ReadFile(filepath.Join(hostileDir, "input", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []inputCase
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	var out []hostileCase
	for _, c := range list {
		if c.Expect == "" && c.Host == "" {
			t.Fatalf("input case %s: needs expect or host", c.Name)
		}
		group := groupOther
		if strings.HasPrefix(c.Connector, "js-") {
			group = groupJS
		}
		out = append(out, hostileCase{
			name: "input/" + c.Name, category: "input", group: group,
			run: func(t *testing.T, env *hostileEnv) {
				raw, _ := json.Marshal(c.Input)
				input := jsonObject(t, c.Name, env.expand(string(raw), c.Name))
				path := env.copyConnector(t, filepath.Join(hostileDir, "input", c.Connector+".yml"), t.TempDir(), c.Name)
				var base *url.URL
				err, _ := attempt(t, hostileBound, func(ctx context.Context) error {
					e := hostileEngine(group)
					cc, diags := e.Load(path)
					if diags.HasErrors() {
						return fmt.Errorf("%w: %w", errDidNotLoad, diags)
					}
					cl, err := e.Client(ctx, engine.Connection{Connector: cc.Spec.Key, ConnectionParameters: input})
					if err != nil {
						return err
					}
					base = cl.BaseURL()
					if cmpOr(c.Phase, "client") == "get" {
						_, err = cl.Get(ctx, "/hostile")
					}
					return err
				})
				if c.Expect == "" {
					if err != nil {
						t.Fatalf("accepted input failed: %v", err)
					}
					if base.Host != env.expand(c.Host, c.Name) {
						t.Errorf("the input moved the API to %s, want %s", base.Host, c.Host)
					}
					return
				}
				checkError(t, err, c.Expect, canaries(input))
			},
		})
	}
	return out
}

// TestHostileInputs runs the whole corpus.
func TestHostileInputs(t *testing.T) {
	env := newHostileEnv(t)
	var cases []hostileCase
	cases = append(cases, specCases(t)...)
	cases = append(cases, jsCases(t)...)
	cases = append(cases, inputCases(t)...)
	cases = append(cases, tokenCases(t)...)
	cases = append(cases, generatedCases()...)
	perCategory := map[string]int{}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		names[c.name] = true
		perCategory[c.category]++
	}
	t.Logf("%d hostile cases: %v", len(cases), perCategory)
	if len(cases) < 100 {
		t.Fatalf("the corpus has %d cases; it must keep at least 100", len(cases))
	}
	for _, group := range []struct {
		name string
		caseGroup
	}{{"serial", groupSerial}, {"js", groupJS}, {"other", groupOther}} {
		t.Run(group.name, func(t *testing.T) {
			for _, c := range cases {
				if c.group != group.caseGroup {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					if group.caseGroup != groupSerial {
						t.Parallel()
					}
					// A case that skips proves nothing: make it fail instead.
					defer func() {
						if t.Skipped() {
							t.Errorf("hostile case %s skipped; every case must run", c.name)
						}
					}()
					c.run(t, env)
				})
			}
		})
	}
	// The process is alive and still works: a connector loads, a method
	// runs in a pooled JavaScript runtime, a request goes out.
	e := hostileEngine(groupSerial)
	dir := filepath.Join(t.TempDir(), "sane")
	writeJSConnector(t, env, dir, "test", `export default async function ({ apiClient }) {
  const me = await apiClient.get('/me')
  return me.id === 'acct_1' && typeof process === 'undefined' && [1, 2, 3].map((x) => x * 2).join() === '2,4,6'
}`)
	if err := runConnector(context.Background(), e, dir, "test", engine.Connection{ConnectionParameters: map[string]any{"apiKey": "sane-key"}}); err != nil {
		t.Errorf("after the corpus, a sane connector fails: %v", err)
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	if len(env.evilHits) > 0 {
		t.Errorf("requests reached the other host: %v", env.evilHits)
	}
}

// --- Token endpoints -------------------------------------------------------

// tokenBehaviour is how a hostile token endpoint answers.
type tokenBehaviour func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string)

// tokenCase is one hostile token endpoint: a raw response from
// testdata/hostile/token/*.http, or one of hostileTokenBehaviours.
type tokenCase struct {
	name     string
	respond  tokenBehaviour
	expect   string // part of the error; "" when the answer is accepted
	deadline time.Duration
	defunct  bool // invalid_grant: the connection needs a new authorization
	// replaced: the answer is stored as new credentials although the
	// request fails (a token no request can carry).
	replaced bool
}

func tokenCases(t *testing.T) []hostileCase {
	files, err := filepath.Glob(filepath.Join(hostileDir, "token", "*.http"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no token endpoint cases: %v", err)
	}
	var list []tokenCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := directives(t, f, data, "#")
		name := strings.TrimSuffix(filepath.Base(f), ".http")
		var raw []byte
		for line := range bytes.Lines(data) {
			if len(raw) == 0 && bytes.HasPrefix(line, []byte("#")) {
				continue
			}
			raw = append(raw, line...)
		}
		list = append(list, tokenCase{name: name, expect: d["expect"], defunct: d["defunct"] == "true", replaced: d["stored"] == "replaced", respond: replay(raw)})
	}
	list = append(list, hostileTokenBehaviours...)
	gzipBomb() // made before any bound runs
	var out []hostileCase
	for _, c := range list {
		out = append(out, hostileCase{name: "token/" + c.name, category: "token", run: func(t *testing.T, env *hostileEnv) { runTokenCase(t, env, c) }})
	}
	return out
}

// replay answers with a raw HTTP response (status line, headers, body).
// {{REQUEST_BODY}} in it is replaced by the request's body (to echo the
// secrets sent), {{EVIL}} by the other host.
func replay(raw []byte) tokenBehaviour {
	return func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		text := strings.ReplaceAll(env.expand(string(raw), "token"), "{{REQUEST_BODY}}", body)
		text = strings.ReplaceAll(text, "\r\n", "\n")
		head, payload, _ := strings.Cut(text, "\n\n")
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(strings.ReplaceAll(head, "\n", "\r\n")+"\r\n\r\n")), r)
		if err != nil {
			t.Errorf("bad raw response: %v", err)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		if resp.Header.Get("Content-Type") == "" {
			w.Header()["Content-Type"] = nil // no type, not a sniffed one
		}
		w.WriteHeader(resp.StatusCode)
		w.Write([]byte(payload))
	}
}

// hostileTokenBehaviours need code: sizes, time, broken connections.
var hostileTokenBehaviours = []tokenCase{
	{name: "body-100MB", expect: "response too large", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		w.Write([]byte(`{"access_token":"`))
		for range 100 {
			if _, err := w.Write(chunk); err != nil {
				return // the client stopped reading, as it should
			}
		}
	}},
	{name: "body-trickles-forever", expect: "deadline exceeded", deadline: hostileTokenDeadline, respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"`))
		for {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := w.Write([]byte("a")); err != nil {
				return
			}
		}
	}},
	{name: "headers-never-sent", expect: "deadline exceeded", deadline: hostileTokenDeadline, respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		<-r.Context().Done()
	}},
	{name: "connection-dropped-mid-body", expect: "unexpected EOF", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"access_token\":\"canary-half")
		buf.Flush()
		conn.Close()
	}},
	{name: "connection-closed-without-answer", expect: "EOF", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}},
	{name: "header-10MB", expect: "headers exceeded", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nX-Huge: ")
		for range 10 {
			if _, err := buf.Write(bytes.Repeat([]byte("h"), 1<<20)); err != nil {
				return
			}
		}
		buf.WriteString("\r\n\r\n{}")
		buf.Flush()
	}},
	{name: "gzip-bomb", expect: "response too large", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipBomb())
	}},
	{name: "not-http", expect: "malformed HTTP", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("SSH-2.0-OpenSSH_9.6\r\n\r\n")
		buf.Flush()
	}},
	{name: "json-nested-10k", expect: "JSON response is nested too deeply", respond: deepTokenAnswer(10_000)},
	{name: "json-nested-100k", expect: "JSON response is nested too deeply", respond: deepTokenAnswer(100_000)},
	{name: "json-nested-1M-unclosed", expect: "JSON response is nested too deeply", respond: deepTokenAnswer(-1_000_000)},
	{name: "random-bytes", expect: "token endpoint returned HTTP 200", respond: func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		junk := make([]byte, 64<<10)
		rand.Read(junk)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(junk)
	}},
}

// deepTokenAnswer is a token response with an access token and a value
// nested depth levels deep (a negative depth: that many unclosed arrays).
func deepTokenAnswer(depth int) tokenBehaviour {
	return func(t *testing.T, env *hostileEnv, w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "application/json")
		closing := strings.Repeat("]", max(depth, 0)) + "}"
		w.Write([]byte(`{"access_token":"canary-deep","expires_in":3600,"x":` + strings.Repeat("[", max(depth, -depth)) + closing))
	}
}

// gzipBomb is 256 MiB of JSON whitespace that travels as a few hundred
// KiB: one gzip member of 1 MiB, repeated (gzip readers read every member
// of a stream); the token endpoint reads at most 1 MiB of it once unpacked.
var gzipBomb = sync.OnceValue(func() []byte {
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	var buf bytes.Buffer
	head := gzip.NewWriter(&buf)
	head.Write([]byte(`{"access_token":"`))
	head.Close()
	for range 256 {
		buf.Write(member.Bytes())
	}
	return buf.Bytes()
})

// tokenConnector is an OAuth 2.0 connector whose token endpoint is srv.
func tokenConnector(env *hostileEnv, tokenURL string) string {
	return `key: hostile-oauth
name: Hostile token endpoint
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: ` + env.api.URL + `/authorize
      tokenUri: ` + tokenURL + `
  makeApiClient:
    mapping:
      baseUri: ` + env.api.URL + `
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`
}

// runTokenCase puts a hostile token endpoint behind a connection whose
// token has expired, on a memory and on a SQLite store, and behind a new
// authorization of a connection that has credentials already.
func runTokenCase(t *testing.T, env *hostileEnv, c tokenCase) {
	var hostile atomic.Bool
	hostile.Store(true)
	var mu sync.Mutex
	var refreshTokens []string
	fresh := "fresh-" + c.name
	secret, refresh, access := "canary-secret-"+c.name, "canary-refresh-"+c.name, "canary-access-"+c.name
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if hostile.Load() {
			c.respond(t, env, w, r, string(body))
			return
		}
		// Well-behaved again: the refresh token and client secret must be
		// the ones stored before the hostile answer.
		form, _ := url.ParseQuery(string(body))
		_, pass, _ := r.BasicAuth()
		mu.Lock()
		refreshTokens = append(refreshTokens, form.Get("refresh_token"))
		mu.Unlock()
		if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != refresh || cmpOr(pass, form.Get("client_secret")) != secret {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, fresh)
	}))
	defer tokenSrv.Close()
	path := filepath.Join(t.TempDir(), "hostile-oauth.yml")
	if err := os.WriteFile(path, []byte(tokenConnector(env, tokenSrv.URL+"/token")), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := []string{secret, refresh, access}
	params := map[string]any{"clientId": "client-" + c.name, "clientSecret": secret}
	stored := map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_at": "2001-01-01T00:00:00Z"}
	deadline := cmpOrDuration(c.deadline, hostileBound)

	sqlite := func(t *testing.T) store.Store {
		key := make([]byte, store.KeySize)
		rand.Read(key)
		cipher, err := store.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "connspec.db"), cipher)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	for _, kind := range []string{"memory", "sqlite"} {
		hostile.Store(true)
		var st store.Store = store.NewMemory()
		if kind == "sqlite" {
			st = sqlite(t)
		}
		e := engine.New(engine.WithStore(st), engine.WithJSOptions(hostileJS))
		if _, diags := e.Load(path); diags.HasErrors() {
			t.Fatal(diags)
		}
		id := "conn-" + kind
		ctx := context.Background()
		if _, err := st.CompareAndSwap(ctx, id, 0, stored); err != nil {
			t.Fatal(err)
		}
		conn := engine.Connection{ID: id, Connector: "hostile-oauth", ConnectorParameters: params}
		cl, err := e.Client(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		// The token expired: the request renews it and meets the endpoint.
		err, _ = attempt(t, deadline, func(ctx context.Context) error {
			_, err := cl.Get(ctx, "/me")
			return err
		})
		rec, gerr := st.Get(ctx, id)
		if gerr != nil {
			t.Fatalf("%s store unreadable after the hostile answer: %v", kind, gerr)
		}
		if c.expect == "" {
			if err != nil {
				t.Fatalf("%s: accepted answer failed: %v", kind, err)
			}
			checkAcceptedToken(t, kind, rec, refresh)
			continue
		}
		checkError(t, err, c.expect, secrets)
		if c.replaced {
			checkAcceptedToken(t, kind, rec, refresh)
			continue
		}
		if !reflect.DeepEqual(rec.Credentials, stored) || rec.Version != 1 {
			t.Fatalf("%s store changed by a failed refresh: version %d, %v", kind, rec.Version, rec.Credentials)
		}
		if strings.Contains(rec.State.LastError, secret) || strings.Contains(rec.State.LastError, refresh) {
			t.Errorf("%s store's last error shows a secret: %s", kind, rec.State.LastError)
		}
		// The endpoint behaves again: the same refresh token still works
		// (nothing lost), unless the provider said invalid_grant.
		hostile.Store(false)
		_, err = cl.Get(ctx, "/me")
		if c.defunct {
			if !errors.Is(err, engine.ErrConnectionIsDefunct) {
				t.Errorf("%s: after invalid_grant: %v, want connection_is_defunct", kind, err)
			}
			if rec.State.Status != store.StatusNeedsReauth {
				t.Errorf("%s: state %+v, want needs_reauth", kind, rec.State)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: the connection does not recover once the endpoint behaves: %v", kind, err)
		}
		rec, _ = st.Get(ctx, id)
		if rec.Credentials["access_token"] != fresh || rec.Credentials["refresh_token"] != refresh {
			t.Errorf("%s: after recovery the store holds %v", kind, rec.Credentials)
		}
	}

	// A new authorization of a connection that has credentials: a hostile
	// code exchange must leave the stored ones alone.
	hostile.Store(true)
	st := store.NewMemory()
	e := engine.New(engine.WithStore(st), engine.WithJSOptions(hostileJS))
	if _, diags := e.Load(path); diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	st.CompareAndSwap(ctx, "conn-reauth", 0, stored)
	conn := engine.Connection{ID: "conn-reauth", Connector: "hostile-oauth", ConnectorParameters: params}
	req, err := e.AuthorizationURL(ctx, conn, "http://127.0.0.1:1/callback")
	if err != nil {
		t.Fatal(err)
	}
	const code = "canary-code-exchange"
	err, _ = attempt(t, deadline, func(ctx context.Context) error {
		_, err := e.CompleteAuthorization(ctx, conn, url.Values{"code": {code}, "state": {req.State}}, "http://127.0.0.1:1/callback", req.State, req.Verifier)
		return err
	})
	rec, gerr := st.Get(ctx, "conn-reauth")
	if gerr != nil {
		t.Fatal(gerr)
	}
	if c.expect == "" || c.replaced {
		if err != nil {
			t.Fatalf("exchange: accepted answer failed: %v", err)
		}
		return
	}
	checkError(t, err, c.expect, append(secrets, code, req.Verifier))
	if !reflect.DeepEqual(rec.Credentials, stored) || rec.Version != 1 {
		t.Errorf("exchange: a failed authorization changed the stored credentials: %v", rec.Credentials)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, rt := range refreshTokens {
		if rt != refresh {
			t.Errorf("a refresh was tried with %q", rt)
		}
	}
}

// checkAcceptedToken checks credentials stored from an odd but usable token
// response: the old refresh token kept (the response had no usable new
// one), an access token, and an expiry that is absent or in the future.
func checkAcceptedToken(t *testing.T, kind string, rec store.Record, refresh string) {
	t.Helper()
	c := rec.Credentials
	if rec.Version != 2 || c["refresh_token"] != refresh {
		t.Errorf("%s: stored after an accepted answer: version %d, %v", kind, rec.Version, c)
	}
	if at, _ := c["access_token"].(string); at == "" {
		t.Errorf("%s: no access token stored: %v", kind, c)
	}
	if exp, ok := c["expires_at"]; ok {
		s, _ := exp.(string)
		at, err := time.Parse(time.RFC3339, s)
		if err != nil || !at.After(time.Now()) {
			t.Errorf("%s: stored expires_at %v", kind, exp)
		}
	}
}

func cmpOrDuration(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// --- Generated cases --------------------------------------------------------

// generatedCase writes a big input into a temporary folder; committing it
// would bloat the repository.
type generatedCase struct {
	name, category string
	expect         string
	phase          string // as in runConnector; "load" when empty
	// write writes the connector into dir and returns the path to load.
	write func(t *testing.T, dir string) string
	input map[string]any
	group caseGroup
}

func generatedCases() []hostileCase {
	var out []hostileCase
	for _, g := range hostileGenerated {
		out = append(out, hostileCase{name: "generated/" + g.name, category: g.category, group: g.group, run: func(t *testing.T, env *hostileEnv) {
			path := g.write(t, t.TempDir())
			err, _ := attempt(t, hostileBound, func(ctx context.Context) error {
				return runConnector(ctx, hostileEngine(g.group), path, cmpOr(g.phase, "load"), engine.Connection{ConnectionParameters: g.input})
			})
			checkError(t, err, g.expect, canaries(g.input))
		}})
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const sane = "name: Sane\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping:\n      baseUri: https://api.example.test\n"

var hostileGenerated = []generatedCase{
	{name: "yaml-10MiB-plus-one", category: "yaml", expect: "larger than the 10 MiB limit", write: func(t *testing.T, dir string) string {
		return writeFile(t, filepath.Join(dir, "big.yml"), append([]byte(sane+"description: "), bytes.Repeat([]byte("x"), 10<<20)...))
	}},
	{name: "yaml-64MiB", category: "yaml", expect: "larger than the 10 MiB limit", write: func(t *testing.T, dir string) string {
		f, err := os.Create(filepath.Join(dir, "huge.yml"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.Truncate(64 << 20) // sparse: a file of zeros
		return f.Name()
	}},
	{name: "yaml-just-under-10MiB-string", category: "yaml", group: groupSerial, expect: "has no auth block", write: func(t *testing.T, dir string) string {
		return writeFile(t, filepath.Join(dir, "long.yml"), []byte("name: \""+strings.Repeat("x", 10<<20-32)+"\"\n"))
	}},
	{name: "yaml-210k-values", category: "yaml", group: groupSerial, expect: "expands to more than 200000 values", write: func(t *testing.T, dir string) string {
		return writeFile(t, filepath.Join(dir, "values.yml"), []byte(sane+"x: ["+strings.Repeat("1,", 210_000)+"1]\n"))
	}},
	{name: "yaml-nesting-1M-flow", category: "yaml", group: groupSerial, expect: "exceeded max depth", write: func(t *testing.T, dir string) string {
		return writeFile(t, filepath.Join(dir, "deep.yml"), []byte("name: "+strings.Repeat("[", 1<<20)))
	}},
	{name: "yaml-nesting-1000-block", category: "yaml", expect: "nested more than 512 levels deep", write: func(t *testing.T, dir string) string {
		var b strings.Builder
		b.WriteString(sane + "x:\n")
		for i := 1; i <= 1000; i++ {
			b.WriteString(strings.Repeat(" ", i) + "a:\n")
		}
		return writeFile(t, filepath.Join(dir, "block.yml"), []byte(b.String()))
	}},
	{name: "yaml-billion-laughs", category: "yaml", expect: "expands to more than 200000 values", write: func(t *testing.T, dir string) string {
		var b strings.Builder
		b.WriteString(sane + "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
		for i := 1; i < 12; i++ {
			fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
		}
		return writeFile(t, filepath.Join(dir, "laughs.yml"), []byte(b.String()))
	}},
	{name: "yaml-nul-bytes", category: "yaml", expect: "not UTF-8 text", write: func(t *testing.T, dir string) string {
		return writeFile(t, filepath.Join(dir, "nul.yml"), append([]byte(sane), make([]byte, 1<<20)...))
	}},
	{name: "yaml-invalid-utf8", category: "yaml", expect: "not UTF-8 text", write: func(t *testing.T, dir string) string {
		return writeFile(t, filepath.Join(dir, "latin1.yml"), []byte("name: caf\xe9\n"+sane[strings.Index(sane, "\n")+1:]))
	}},
	{name: "yaml-210k-keys", category: "yaml", group: groupSerial, expect: "expands to more than 200000 values", write: func(t *testing.T, dir string) string {
		var b bytes.Buffer
		b.WriteString(sane)
		for i := range 210_000 {
			fmt.Fprintf(&b, "k%07d: v\n", i)
		}
		return writeFile(t, filepath.Join(dir, "keys.yml"), b.Bytes())
	}},
	{name: "js-file-11MiB", category: "js", expect: "larger than the 10 MiB limit", write: func(t *testing.T, dir string) string {
		writeFile(t, filepath.Join(dir, "c", "spec.yml"), []byte("name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    implementationType: javascript\n"))
		writeFile(t, filepath.Join(dir, "c", "auth", "make-api-client.js"), append([]byte("export default () => ({ baseUri: 'https://a.test' })\n//"), bytes.Repeat([]byte("x"), 11<<20)...))
		return filepath.Join(dir, "c")
	}},
	{name: "mapping-file-11MiB", category: "formula", expect: "larger than the 10 MiB limit", write: func(t *testing.T, dir string) string {
		writeFile(t, filepath.Join(dir, "c", "spec.yml"), []byte("name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    implementationType: mapping\n"))
		writeFile(t, filepath.Join(dir, "c", "auth", "make-api-client.map.yml"), append([]byte("baseUri: https://a.test\n#"), bytes.Repeat([]byte("x"), 11<<20)...))
		return filepath.Join(dir, "c")
	}},
	{name: "formula-concat-doubling-1MiB-leaf", category: "formula", phase: "client", group: groupSerial, expect: "expands too much", write: func(t *testing.T, dir string) string {
		var b strings.Builder
		b.WriteString("name: C\nx-leaf: &l0 \"" + strings.Repeat("x", 1<<20) + "\"\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping:\n      baseUri: https://api.example.test\n      headers:\n")
		for i := 1; i <= 13; i++ {
			fmt.Fprintf(&b, "        X-%d: &l%d {$concat: [*l%d, *l%d]}\n", i, i, i-1, i-1)
		}
		return writeFile(t, filepath.Join(dir, "doubling.yml"), []byte(b.String()))
	}},
	{name: "symlink-out-of-the-folder", category: "spec", expect: "make-api-client.js: path escapes", write: symlinkOut(func(dir string) (string, string) {
		return filepath.Join(dir, "outside", "secret.js"), filepath.Join(dir, "c", "auth", "make-api-client.js")
	})},
	{name: "symlink-relative-out-of-the-folder", category: "spec", expect: "make-api-client.js: path escapes", write: symlinkOut(func(dir string) (string, string) {
		return filepath.Join("..", "..", "outside", "secret.js"), filepath.Join(dir, "c", "auth", "make-api-client.js")
	})},
	{name: "symlink-auth-folder-out-of-the-folder", category: "spec", expect: "make-api-client.js: path escapes", write: symlinkOut(func(dir string) (string, string) {
		return filepath.Join(dir, "outside"), filepath.Join(dir, "c", "auth")
	})},
	{name: "input-nested-10000-deep", category: "input", phase: "test", group: groupJS, expect: "nested too deeply", input: nestedInput(10000), write: func(t *testing.T, dir string) string {
		// A JavaScript method receives the input: too deep to hand over.
		return writeFile(t, filepath.Join(dir, "c.yml"), []byte(sane+"  test:\n    code: |\n      export default ({ connectionParameters }) => !!connectionParameters\n"))
	}},
}

// symlinkOut writes a connector whose make-api-client.js is reached through
// a symbolic link (made by paths: target, link) to outside/ beside the
// connector's folder, where a method that reads a file lies in wait.
func symlinkOut(paths func(dir string) (target, link string)) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		writeFile(t, filepath.Join(dir, "outside", "secret.js"), []byte("export default () => ({ baseUri: 'https://a.test' })\n"))
		writeFile(t, filepath.Join(dir, "outside", "make-api-client.js"), []byte("export default () => ({ baseUri: 'https://a.test' })\n"))
		writeFile(t, filepath.Join(dir, "c", "spec.yml"), []byte("name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    implementationType: javascript\n"))
		target, link := paths(dir)
		// The link's folder must exist: the case once skipped forever because it did not.
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal("cannot make the symbolic link:", err)
		}
		return filepath.Join(dir, "c")
	}
}

// nestedInput is connection input nested depth levels deep.
func nestedInput(depth int) map[string]any {
	deep := any("canary-deep-input")
	for range depth {
		deep = map[string]any{"a": deep}
	}
	return map[string]any{"nested": deep}
}
