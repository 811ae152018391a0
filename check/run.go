package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"sync/atomic"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// callbackURI is the redirect URI fixtures authorise with.
const callbackURI = "http://127.0.0.1:53682/callback"

// Result is the outcome of one fixture.
type Result struct {
	Connector string
	Fixture   *Fixture
	// Problems are "FILE:LINE: message" lines; none means the fixture passed.
	Problems []string
}

// OK reports whether the fixture passed.
func (r Result) OK() bool { return len(r.Problems) == 0 }

// Library finds connectors by key, for proxies' base connections.
type Library func(key string) *spec.Connector

// Run replays every fixture of connector c.
func Run(ctx context.Context, c *spec.Connector, fixtures []*Fixture, lib Library) []Result {
	out := make([]Result, 0, len(fixtures))
	for _, f := range fixtures {
		out = append(out, runFixture(ctx, c, f, lib))
	}
	return out
}

type runner struct {
	f        *Fixture
	mock     *mock
	problems []string
}

func (r *runner) problem(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.mock != nil && r.mock.unmatchedCount() > 0 && quotesNoFixture.MatchString(msg) {
		msg += noFixtureNote
	}
	r.problems = append(r.problems, fmt.Sprintf("%s:%d: %s", r.f.File, line, msg))
}

// StatusNoFixture is the HTTP status the check's mock provider answers a
// request with when no fixture entry matches it (the request is reported
// as an "unexpected request" problem at the closest entry).
const StatusNoFixture = 599

// quotesNoFixture finds the status in a problem that quotes the mock's
// answer (an error of the engine or a method: "HTTP 599").
var quotesNoFixture = regexp.MustCompile(`\b599\b`)

// noFixtureNote explains that status where a problem quotes it.
const noFixtureNote = " (599 is connspec check's answer to a request no fixture entry matches: see the unexpected request reported for this fixture)"

func runFixture(ctx context.Context, c *spec.Connector, f *Fixture, lib Library) Result {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := &runner{f: f}
	var current atomic.Pointer[engine.Client]
	var authorized map[string]any
	r.mock = &mock{f: f, used: map[*Exchange]int{}, vars: func() map[string]any {
		creds := f.Credentials
		if authorized != nil {
			creds = authorized
		}
		if cl := current.Load(); cl != nil {
			creds = cl.Credentials()
		}
		vars := map[string]any{"credentials": creds, "input": f.Input, "connectorParameters": f.ConnectorParameters}
		if f.Account != nil {
			vars["account"] = map[string]any{"id": f.Account.ID, "metadata": f.Account.Metadata}
		}
		return vars
	}}
	eng := engine.New(engine.WithTransport(r.mock), engine.WithRateLimitRetries(1, 0),
		engine.WithWorkspace("check-workspace", []byte("check-workspace-secret")))
	if _, diags := eng.Register(c); diags.HasErrors() {
		r.problem(f.Line, "the connector does not compile: %s", diags.Error())
		return r.result(c)
	}
	conn := engine.Connection{Connector: c.Key, Option: f.Option, ConnectorParameters: f.ConnectorParameters,
		ConnectionParameters: f.Input, Credentials: maps.Clone(f.Credentials)}
	if f.Account != nil {
		conn.Account = &engine.Account{ID: f.Account.ID, Metadata: f.Account.Metadata}
	}
	if f.Base != nil {
		base := lib(f.Base.Connector)
		if base == nil {
			r.problem(f.Line, "base connector %q is not in the library", f.Base.Connector)
			return r.result(c)
		}
		if _, diags := eng.Register(base); diags.HasErrors() {
			r.problem(f.Line, "base connector %s does not compile", f.Base.Connector)
			return r.result(c)
		}
		conn.Base = &engine.Connection{Connector: f.Base.Connector, ConnectorParameters: f.Base.ConnectorParameters,
			ConnectionParameters: f.Base.Input, Credentials: maps.Clone(f.Base.Credentials)}
	}
	if f.Authorize != nil {
		creds, ok := r.authorize(ctx, eng, conn)
		if !ok {
			return r.result(c)
		}
		authorized, conn.Credentials = creds, creds
	}
	cl, err := eng.Client(ctx, conn)
	if err != nil {
		r.problem(f.Line, "the client cannot be made: %v", err)
		return r.result(c)
	}
	current.Store(cl)
	r.calls(ctx, cl)
	r.test(ctx, cl)
	r.expectCredentials(f.credentialsLine, f.CredentialsExpected, cl.Credentials())
	if f.Refresh != nil {
		// Expire the token and send the calls again: a refresh must happen.
		expired := cl.Credentials()
		expired["expires_at"] = "2000-01-01T00:00:00Z"
		again := conn
		if conn.Base != nil {
			base := *conn.Base
			base.Credentials = expired
			again.Base = &base
		} else {
			again.Credentials = expired
		}
		if cl, err = eng.Client(ctx, again); err != nil {
			r.problem(f.refreshLine, "the client cannot be made with an expired token: %v", err)
			return r.result(c)
		}
		current.Store(cl)
		r.calls(ctx, cl)
		got := cl.Credentials()
		if got["expires_at"] == "2000-01-01T00:00:00Z" {
			r.problem(f.refreshLine, "the expired token was not refreshed")
		}
		r.expectCredentials(f.refreshLine, f.Refresh.CredentialsExpected, got)
	}
	for _, x := range f.Requests {
		if r.mock.used[x] < minUses(x) {
			r.problem(x.Line, "expected request %s %s was not sent", x.Method, x.URL)
		}
	}
	return r.result(c)
}

func (r *runner) result(c *spec.Connector) Result {
	problems := append(r.mock.problems, r.problems...)
	sort.SliceStable(problems, func(i, j int) bool { return problems[i] < problems[j] })
	return Result{Connector: c.Key, Fixture: r.f, Problems: problems}
}

// authorize runs the OAuth flow: the authorize URL is checked, and the
// provider's redirect is simulated with the fixture's callback query.
func (r *runner) authorize(ctx context.Context, eng *engine.Engine, conn engine.Connection) (map[string]any, bool) {
	a := r.f.Authorize
	line := r.f.authorizeLine
	req, err := eng.AuthorizationURL(ctx, conn, callbackURI)
	if err != nil {
		r.problem(line, "AuthorizationURL: %v", err)
		return nil, false
	}
	u, err := parseURL(req.URL)
	if err != nil {
		r.problem(line, "the authorization URL does not parse")
		return nil, false
	}
	vars := r.mock.vars()
	if want := render(a.URL, vars); a.URL != "" && want != u.Scheme+"://"+u.Host+u.Path {
		r.problem(line, "the authorization URL is %s, not %s", u.Scheme+"://"+u.Host+u.Path, want)
	}
	q := u.Query()
	for k, v := range a.Query {
		if d := compare("authorization URL parameter "+k, q[k], v, vars); d != "" {
			r.problem(line, "%s", d)
		}
	}
	callback := map[string][]string{}
	for k, v := range a.Callback {
		callback[k] = []string{render(stringOf(v), vars)}
	}
	if q.Get("oauth_token") != "" {
		callback["oauth_token"] = []string{req.State} // OAuth 1.0a: the temporary token
	} else {
		callback["state"] = []string{req.State}
	}
	creds, err := eng.CompleteAuthorization(ctx, conn, callback, callbackURI, req.State, req.Verifier)
	if err != nil {
		r.problem(line, "CompleteAuthorization: %v", err)
		return nil, false
	}
	return creds, true
}

func (r *runner) calls(ctx context.Context, cl *engine.Client) {
	for _, c := range r.f.Calls {
		method := c.Method
		if method == "" {
			method = http.MethodGet
		}
		var body io.Reader
		if c.JSON != nil {
			data, err := json.Marshal(c.JSON)
			if err != nil {
				r.problem(c.Line, "bad call body: %v", err)
				continue
			}
			body = bytes.NewReader(data)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.Path, body)
		if err != nil {
			r.problem(c.Line, "bad call: %v", err)
			continue
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := cl.HTTPClient().Do(req)
		var ce *engine.ConnectionError
		switch {
		case err != nil && c.Error != "" && errors.As(err, &ce) && ce.Key == c.Error:
			continue
		case err != nil:
			r.problem(c.Line, "%s %s failed: %v", method, c.Path, err)
			continue
		case c.Error != "" && resp.StatusCode == StatusNoFixture:
			resp.Body.Close()
			continue // the mock reported the unmatched request
		case c.Error != "":
			resp.Body.Close()
			r.problem(c.Line, "%s %s answered %d; expected the connection error %s", method, c.Path, resp.StatusCode, c.Error)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == StatusNoFixture {
			continue // the mock reported the unmatched request
		}
		if (c.Status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 299)) || (c.Status != 0 && resp.StatusCode != c.Status) {
			want := "2xx"
			if c.Status != 0 {
				want = fmt.Sprint(c.Status)
			}
			r.problem(c.Line, "%s %s answered %d, expected %s", method, c.Path, resp.StatusCode, want)
		}
	}
}

func (r *runner) test(ctx context.Context, cl *engine.Client) {
	switch {
	case r.f.Test == "skip":
		return
	case !cl.HasTest():
		if r.f.Test != "" {
			r.problem(r.f.testLine, "the fixture expects the test to %s, but the auth option has no test method", r.f.Test)
		}
		return
	}
	err := cl.Test(ctx)
	switch {
	case r.f.Test == "fail" && err == nil:
		r.problem(r.f.testLine, "the test passed, expected it to fail")
	case r.f.Test != "fail" && err != nil:
		r.problem(r.f.testLine, "the test failed: %v", err)
	}
}

func (r *runner) expectCredentials(line int, want, got map[string]any) {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vars := r.mock.vars()
	for _, k := range keys {
		w := render(stringOf(want[k]), vars)
		g, ok := got[k]
		switch {
		case !ok:
			r.problem(line, "credentials have no %s", k)
		case w != "*" && stringOf(g) != w:
			r.problem(line, "credentials %s differs from the expected value", k)
		}
	}
}
