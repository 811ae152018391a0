package check

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// mock plays the provider: every request the engine sends must match one of
// the fixture's expected exchanges, and gets its canned answer.
type mock struct {
	f *Fixture
	// vars gives the values placeholders refer to at the time of a request.
	vars func() map[string]any

	mu       sync.Mutex
	used     map[*Exchange]int
	problems []string
	// unmatched counts the requests answered StatusNoFixture.
	unmatched int
}

func (m *mock) unmatchedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unmatched
}

func (m *mock) problem(line int, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.problems = append(m.problems, fmt.Sprintf("%s:%d: %s", m.f.File, line, fmt.Sprintf(format, args...)))
}

func (m *mock) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(req.Body, 1<<20))
		req.Body.Close()
	}
	vars := m.vars()
	best, bestScore, why := (*Exchange)(nil), -1, ""
	for _, x := range m.f.Requests {
		score, diff := match(x, req, body, vars)
		if diff == "" {
			m.mu.Lock()
			m.used[x]++
			m.mu.Unlock()
			return respond(x, req), nil
		}
		if score > bestScore {
			best, bestScore, why = x, score, diff
		}
	}
	target := req.Method + " " + scrubURL(req.URL)
	if best == nil {
		m.problem(m.f.Line, "unexpected request %s: the fixture lists no requests", target)
	} else {
		m.problem(best.Line, "unexpected request %s: closest is this entry, but %s", target, why)
	}
	m.mu.Lock()
	m.unmatched++
	m.mu.Unlock()
	return &http.Response{StatusCode: StatusNoFixture, Status: "599 no fixture matches", Header: http.Header{}, Body: io.NopCloser(strings.NewReader("connspec check: no fixture request matches")), Request: req}, nil
}

// scrubURL shows a URL without its query values (they may be derived from
// secrets) but with its parameter names.
func scrubURL(u *url.URL) string {
	s := u.Scheme + "://" + u.Host + u.Path
	if q := u.Query(); len(q) > 0 {
		names := make([]string, 0, len(q))
		for k := range q {
			names = append(names, k)
		}
		sort.Strings(names)
		s += "?" + strings.Join(names, "&")
	}
	return s
}

// match compares a request with an expected exchange. score counts the
// criteria that agree (to name the closest entry); diff says what differs.
func match(x *Exchange, req *http.Request, body []byte, vars map[string]any) (score int, diff string) {
	if !strings.EqualFold(x.Method, req.Method) && x.Method != "" {
		return 0, fmt.Sprintf("the method is %s, not %s", req.Method, x.Method)
	}
	score++
	got := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	if want := render(x.URL, vars); want != got {
		return score, fmt.Sprintf("the URL is %s, not %s", got, want)
	}
	score += 2
	q := req.URL.Query()
	for k, v := range x.Query {
		if d := compare("query parameter "+k, q[k], v, vars); d != "" {
			return score, d
		}
		score++
	}
	for k, v := range x.Headers {
		if d := compare("header "+k, req.Header.Values(k), v, vars); d != "" {
			return score, d
		}
		score++
	}
	if len(x.Form) > 0 {
		form, _ := url.ParseQuery(string(body))
		for k, v := range x.Form {
			if d := compare("form field "+k, form[k], v, vars); d != "" {
				return score, d
			}
			score++
		}
	}
	if len(x.JSON) > 0 {
		var obj map[string]any
		if json.Unmarshal(body, &obj) != nil {
			return score, "the body is not a JSON object"
		}
		for k, v := range x.JSON {
			var got []string
			if val, ok := obj[k]; ok {
				got = []string{stringOf(val)}
			}
			if d := compare("JSON field "+k, got, v, vars); d != "" {
				return score, d
			}
			score++
		}
	}
	return score, ""
}

// compare checks the values a request carries for one name against the
// expected value: "*" means present; otherwise one of them must equal it.
func compare(what string, got []string, want any, vars map[string]any) string {
	if want == nil {
		// null: the name must not be sent at all.
		if len(got) > 0 {
			return what + " is sent, but must be absent"
		}
		return ""
	}
	w := render(stringOf(want), vars)
	if len(got) == 0 {
		return what + " is missing"
	}
	if w == "*" {
		return ""
	}
	for _, g := range got {
		if g == w {
			return ""
		}
	}
	// An expected value with placeholders is shown as the fixture writes
	// it: rendered, it holds the fixture's credentials.
	if shown := stringOf(want); shown != w {
		return fmt.Sprintf("%s differs (expected %q)", what, shown)
	}
	return fmt.Sprintf("%s differs (expected %q)", what, w)
}

func respond(x *Exchange, req *http.Request) *http.Response {
	status := x.Respond.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	var body []byte
	switch {
	case x.Respond.Body != nil:
		body = []byte(*x.Respond.Body)
	case x.Respond.JSON != nil:
		body, _ = json.Marshal(x.Respond.JSON)
		h.Set("Content-Type", "application/json")
	}
	for k, v := range x.Respond.Headers {
		h.Set(k, v)
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// render replaces {{path}} and {{basic A B}} placeholders.
func render(s string, vars map[string]any) string {
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return s
		}
		expr := strings.TrimSpace(s[i+2 : i+j])
		var val string
		if fields := strings.Fields(expr); len(fields) == 3 && fields[0] == "basic" {
			val = base64.StdEncoding.EncodeToString([]byte(operand(vars, fields[1]) + ":" + operand(vars, fields[2])))
		} else {
			val = lookup(vars, expr)
		}
		s = s[:i] + val + s[i+j+2:]
	}
}

// operand is a path, or a literal in double quotes ("" for empty).
func operand(vars map[string]any, s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return lookup(vars, s)
}

func lookup(vars map[string]any, p string) string {
	var cur any = vars
	for _, part := range strings.Split(p, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[part]
	}
	return stringOf(cur)
}

func stringOf(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		if t == float64(int64(t)) {
			return fmt.Sprint(int64(t))
		}
	case map[string]any, []any:
		b, _ := json.Marshal(t)
		return string(b)
	}
	return fmt.Sprint(v)
}

// minUses is how often an exchange must be used.
func minUses(x *Exchange) int {
	switch t := x.Times.(type) {
	case int:
		return t
	case string:
		if t == "any" {
			return 0
		}
	}
	return 1
}
