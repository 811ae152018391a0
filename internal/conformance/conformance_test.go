package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// caseDir holds the cases, one folder each.
const caseDir = "../../testdata/conformance"

// docCase is one case.yml.
type docCase struct {
	// Source is where the documented behaviour is written.
	Source struct {
		Page    string `yaml:"page"`
		Section string `yaml:"section"`
	} `yaml:"source"`
	// Files are the connector's files, relative to its folder.
	Files       map[string]string `yaml:"files"`
	Option      string            `yaml:"option"`
	Parameters  map[string]any    `yaml:"parameters"`
	Input       map[string]any    `yaml:"input"`
	Credentials map[string]any    `yaml:"credentials"`
	Workspace   *struct {
		Key    string `yaml:"key"`
		Secret string `yaml:"secret"`
	} `yaml:"workspace"`
	// Account is the end user the connection is for (the sub and fields
	// of an integration-app-token / membrane-token JWT).
	Account *struct {
		ID     string         `yaml:"id"`
		Fields map[string]any `yaml:"fields"`
	} `yaml:"account"`
	Provider []endpoint `yaml:"provider"`
	Steps    []step     `yaml:"steps"`
}

// endpoint is one thing the loopback provider answers.
type endpoint struct {
	Method   string     `yaml:"method"`
	Host     string     `yaml:"host"`
	Path     string     `yaml:"path"`
	Expect   expect     `yaml:"expect"`
	Respond  response   `yaml:"respond"`
	Then     []response `yaml:"then"` // answers to the second, third... call
	Optional bool       `yaml:"optional"`
}

// expect is what a request must carry; "*" stands for any non-empty value.
type expect struct {
	Headers       map[string]string `yaml:"headers"`
	AbsentHeaders []string          `yaml:"absentHeaders"`
	Query         map[string]string `yaml:"query"`
	Form          map[string]string `yaml:"form"`
	JSON          any               `yaml:"json"`
}

type response struct {
	Status  int               `yaml:"status"`
	JSON    any               `yaml:"json"`
	Text    string            `yaml:"text"`
	Headers map[string]string `yaml:"headers"`
}

// step is one thing a user does; exactly one field is set.
type step struct {
	Load      *loadStep      `yaml:"load"`
	Authorize *authorizeStep `yaml:"authorize"`
	Callback  *callbackStep  `yaml:"callback"`
	Connect   *outcome       `yaml:"connect"`
	Test      *outcome       `yaml:"test"`
	Request   *requestStep   `yaml:"request"`
}

// loadStep expects the connector to be refused (errors) or warned about;
// each string must be in one diagnostic. Without it, a case's connector
// must load with no diagnostic at all.
type loadStep struct {
	Errors   []string `yaml:"errors"`
	Warnings []string `yaml:"warnings"`
}

type authorizeStep struct {
	RedirectURI string            `yaml:"redirectUri"`
	URL         string            `yaml:"url"`   // scheme, host and path
	Query       map[string]string `yaml:"query"` // "*" any value, "" absent
}

type callbackStep struct {
	Query   map[string]string `yaml:"query"` // state is added
	outcome `yaml:",inline"`
}

// outcome is a step's documented result: credentials (a subset), an
// error (a substring), or ok.
type outcome struct {
	OK          bool           `yaml:"ok"`
	Error       string         `yaml:"error"`
	Credentials map[string]any `yaml:"credentials"`
}

type requestStep struct {
	Method   string            `yaml:"method"`
	Path     string            `yaml:"path"`
	Query    map[string]string `yaml:"query"`
	Body     any               `yaml:"body"`
	Response any               `yaml:"response"`
	Error    string            `yaml:"error"`
}

func TestDocumentedExamples(t *testing.T) {
	dirs, err := os.ReadDir(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			t.Parallel()
			runCase(t, filepath.Join(caseDir, d.Name(), "case.yml"))
		})
	}
	if n == 0 {
		t.Fatal("no cases found")
	}
}

func readCase(t testing.TB, file string) docCase {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c docCase
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if !strings.HasPrefix(c.Source.Page, "https://") || c.Source.Section == "" {
		t.Fatalf("%s: source.page (an https URL) and source.section name where the documented behaviour is written", file)
	}
	if len(c.Files) == 0 || len(c.Steps) == 0 {
		t.Fatalf("%s: a case needs files and steps", file)
	}
	return c
}

func runCase(t testing.TB, file string) {
	c := readCase(t, file)
	t.Logf("follows %s, %q", c.Source.Page, c.Source.Section)
	prov := newProvider(t, c.Provider)

	opts := []engine.Option{engine.WithTransport(prov)}
	if c.Workspace != nil {
		opts = append(opts, engine.WithWorkspace(c.Workspace.Key, []byte(c.Workspace.Secret)))
	}
	e := engine.New(opts...)
	fsys := fstest.MapFS{}
	for name, text := range c.Files {
		if !fs.ValidPath(name) {
			t.Fatalf("file name %q is not a clean relative path", name)
		}
		fsys[path.Join("connector", name)] = &fstest.MapFile{Data: []byte(text)}
	}
	cc, diags := e.LoadFS(fsys, "connector")
	steps := c.Steps
	if steps[0].Load != nil {
		checkDiagnostics(t, diags, steps[0].Load)
		steps = steps[1:]
	} else if len(diags) > 0 {
		t.Fatalf("the connector must load without diagnostics:\n%s", diags.Error())
	}
	if cc == nil {
		if len(steps) > 0 {
			t.Fatal("the connector did not load; no further steps can run")
		}
		prov.checkUsed(t)
		return
	}
	r := &run{t: t, e: e, conn: engine.Connection{
		Connector:            cc.Spec.Key,
		Option:               c.Option,
		ConnectorParameters:  c.Parameters,
		ConnectionParameters: c.Input,
		Credentials:          c.Credentials,
	}}
	if c.Account != nil {
		r.conn.Account = &engine.Account{ID: c.Account.ID, Metadata: c.Account.Fields}
	}
	for i, s := range steps {
		r.step(i+1, s)
		if t.Failed() {
			return
		}
	}
	prov.checkUsed(t)
}

func checkDiagnostics(t testing.TB, diags spec.Diagnostics, want *loadStep) {
	t.Helper()
	var errs, warns []string
	for _, d := range diags {
		if d.Severity == spec.SeverityWarning {
			warns = append(warns, d.String())
		} else {
			errs = append(errs, d.String())
		}
	}
	match := func(kind string, got, want []string) {
		for _, w := range want {
			if !containsSub(got, w) {
				t.Errorf("want a %s containing %q; got:\n%s", kind, w, strings.Join(got, "\n"))
			}
		}
		if len(want) == 0 && len(got) > 0 {
			t.Errorf("unexpected %ss:\n%s", kind, strings.Join(got, "\n"))
		}
	}
	match("error", errs, want.Errors)
	match("warning", warns, want.Warnings)
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// run carries a case's connection from step to step.
type run struct {
	t      testing.TB
	e      *engine.Engine
	conn   engine.Connection
	client *engine.Client
	auth   engine.AuthorizationRequest
	redir  string
}

func (r *run) step(n int, s step) {
	t := r.t
	ctx := context.Background()
	switch {
	case s.Authorize != nil:
		r.redir = s.Authorize.RedirectURI
		if r.redir == "" {
			r.redir = "https://app.example.test/oauth-callback"
		}
		ar, err := r.e.AuthorizationURL(ctx, r.conn, r.redir)
		if err != nil {
			t.Fatalf("step %d authorize: %v", n, err)
		}
		r.auth = ar
		u, err := url.Parse(ar.URL)
		if err != nil {
			t.Fatalf("step %d authorize: %v", n, err)
		}
		if want := s.Authorize.URL; want != "" {
			if got := u.Scheme + "://" + u.Host + u.Path; got != want {
				t.Errorf("step %d authorize: URL is %s, want %s", n, got, want)
			}
		}
		checkValues(t, fmt.Sprintf("step %d authorize URL query", n), u.Query(), s.Authorize.Query)
	case s.Callback != nil:
		q := url.Values{"state": {r.auth.State}}
		for k, v := range s.Callback.Query {
			q.Set(k, v)
		}
		creds, err := r.e.CompleteAuthorization(ctx, r.conn, q, r.redir, r.auth.State, r.auth.Verifier)
		if r.outcome(n, "callback", s.Callback.outcome, err) {
			checkSubset(t, fmt.Sprintf("step %d callback credentials", n), creds, s.Callback.Credentials)
			r.conn.Credentials = creds
			r.client = nil
		}
	case s.Connect != nil:
		cl, err := r.e.Client(ctx, r.conn)
		if r.outcome(n, "connect", *s.Connect, err) {
			r.client = cl
			checkSubset(t, fmt.Sprintf("step %d connect credentials", n), cl.Credentials(), s.Connect.Credentials)
		}
	case s.Test != nil:
		cl := r.ensureClient(n)
		r.outcome(n, "test", *s.Test, cl.Test(ctx))
	case s.Request != nil:
		cl := r.ensureClient(n)
		rs := s.Request
		var opts []engine.RequestOption
		if len(rs.Query) > 0 {
			q := url.Values{}
			for k, v := range rs.Query {
				q.Set(k, v)
			}
			opts = append(opts, engine.WithQuery(q))
		}
		method := strings.ToUpper(rs.Method)
		if method == "" {
			method = http.MethodGet
		}
		got, err := cl.Do(ctx, method, rs.Path, rs.Body, opts...)
		if r.outcome(n, "request", outcome{Error: rs.Error, OK: rs.Error == ""}, err) && rs.Response != nil {
			checkSubset(t, fmt.Sprintf("step %d response", n), got, rs.Response)
		}
	default:
		t.Fatalf("step %d: no known step (load is only allowed first)", n)
	}
}

func (r *run) ensureClient(n int) *engine.Client {
	if r.client != nil {
		return r.client
	}
	cl, err := r.e.Client(context.Background(), r.conn)
	if err != nil {
		r.t.Fatalf("step %d: making the client: %v", n, err)
	}
	r.client = cl
	return cl
}

// outcome checks err against the documented outcome and reports whether
// the step succeeded (so its results can be checked further).
func (r *run) outcome(n int, what string, want outcome, err error) bool {
	t := r.t
	switch {
	case want.Error != "" && err == nil:
		t.Errorf("step %d %s: succeeded, want an error containing %q", n, what, want.Error)
	case want.Error != "" && !strings.Contains(err.Error(), want.Error):
		t.Errorf("step %d %s: error %q, want one containing %q", n, what, err, want.Error)
	case want.Error == "" && err != nil:
		t.Errorf("step %d %s: %v", n, what, err)
	case want.Error == "" && !want.OK && want.Credentials == nil:
		t.Errorf("step %d %s: say what the documentation promises (ok: true, credentials or error)", n, what)
	default:
		return err == nil
	}
	return false
}

// checkValues compares query or form values with the wanted ones: "*" is
// any non-empty value, "" is absent.
func checkValues(t testing.TB, what string, got url.Values, want map[string]string) {
	t.Helper()
	for k, w := range want {
		g, present := got[k]
		switch {
		case w == "" && present:
			t.Errorf("%s: %s is %q, want it absent", what, k, g)
		case w == "*" && (!present || g[0] == ""):
			t.Errorf("%s: %s is missing", what, k)
		case w != "" && w != "*" && (len(g) != 1 || g[0] != w):
			t.Errorf("%s: %s is %q, want %q", what, k, g, w)
		}
	}
}

// checkSubset reports where got lacks what want has: maps are compared by
// want's keys, "*" matches any non-empty value, numbers by value.
func checkSubset(t testing.TB, what string, got, want any) {
	t.Helper()
	if msg := subsetDiff("", normalize(got), normalize(want)); msg != "" {
		t.Errorf("%s: %s", what, msg)
	}
}

func subsetDiff(at string, got, want any) string {
	if want == "*" {
		if got == nil || got == "" {
			return fmt.Sprintf("%s is missing", label(at))
		}
		return ""
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %v, want an object", label(at), got)
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if msg := subsetDiff(at+"."+k, g[k], w[k]); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s is %v, want %v", label(at), got, want)
		}
		for i := range w {
			if msg := subsetDiff(fmt.Sprintf("%s[%d]", at, i), g[i], w[i]); msg != "" {
				return msg
			}
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s is %#v, want %#v", label(at), got, want)
	}
	return ""
}

func label(at string) string {
	if at == "" {
		return "the value"
	}
	return strings.TrimPrefix(at, ".")
}

// normalize makes YAML and JSON values comparable: one number type, maps
// with string keys.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// provider is the loopback stand-in for every host a case's connector
// names: a RoundTripper that sends each request to one httptest server,
// whose handler matches it against the case's endpoints.
type provider struct {
	t    testing.TB
	srv  *httptest.Server
	eps  []endpoint
	mu   sync.Mutex
	hits []int
}

func newProvider(t testing.TB, eps []endpoint) *provider {
	p := &provider{t: t, eps: eps, hits: make([]int, len(eps))}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// RoundTrip sends r to the provider server, keeping its Host.
func (p *provider) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.Host = r.URL.Host
	out.URL.Scheme = "http"
	out.URL.Host = p.srv.Listener.Addr().String()
	return http.DefaultTransport.RoundTrip(out)
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	i := p.match(r)
	if i < 0 {
		p.t.Errorf("provider: unexpected request %s %s%s", r.Method, r.Host, r.URL.RequestURI())
		http.Error(w, "no such endpoint in this case", http.StatusNotFound)
		return
	}
	ep := p.eps[i]
	p.mu.Lock()
	call := p.hits[i]
	p.hits[i]++
	p.mu.Unlock()
	what := fmt.Sprintf("provider: %s %s%s", r.Method, r.Host, r.URL.Path)
	p.check(what, r, body, ep.Expect)

	resp := ep.Respond
	if call > 0 && len(ep.Then) > 0 {
		resp = ep.Then[min(call-1, len(ep.Then)-1)]
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case resp.JSON != nil:
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(normalize(resp.JSON))
	default:
		w.WriteHeader(status)
		io.WriteString(w, resp.Text)
	}
}

func (p *provider) match(r *http.Request) int {
	for i, ep := range p.eps {
		if ep.Method != "" && !strings.EqualFold(ep.Method, r.Method) {
			continue
		}
		if ep.Host != "" && !strings.EqualFold(ep.Host, r.Host) {
			continue
		}
		if ep.Path != "" && ep.Path != r.URL.Path {
			continue
		}
		return i
	}
	return -1
}

func (p *provider) check(what string, r *http.Request, body []byte, want expect) {
	t := p.t
	for k, w := range want.Headers {
		g := r.Header.Get(k)
		if (w == "*" && g == "") || (w != "*" && g != w) {
			t.Errorf("%s: header %s is %q, want %q", what, k, g, w)
		}
	}
	for _, k := range want.AbsentHeaders {
		if g := r.Header.Get(k); g != "" {
			t.Errorf("%s: header %s is present, want it absent", what, k)
		}
	}
	checkValues(t, what+" query", r.URL.Query(), want.Query)
	if want.Form != nil {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			t.Errorf("%s: body is %q, want a form", what, mt)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("%s: form body: %v", what, err)
		}
		checkValues(t, what+" form", form, want.Form)
	}
	if want.JSON != nil {
		var got any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: body is not JSON: %v", what, err)
			return
		}
		if msg := subsetDiff("", got, normalize(want.JSON)); msg != "" {
			t.Errorf("%s: JSON body: %s", what, msg)
		}
	}
}

// checkUsed fails the case for an endpoint no request reached.
func (p *provider) checkUsed(t testing.TB) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, ep := range p.eps {
		if p.hits[i] == 0 && !ep.Optional {
			t.Errorf("provider: %s %s%s was never called", ep.Method, ep.Host, ep.Path)
		}
	}
}
