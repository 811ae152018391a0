package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/internal/mapvalue"
	"github.com/connspec/connspec/internal/redact"
	"github.com/connspec/connspec/spec"
)

// session-login: credentials the user typed (a username and password, a key
// pair) are exchanged for a session token by one or more login requests
// that getSessionLoginConfig declares; a later step may use what an earlier
// one extracted ({{name}}). The token is logged in for on first use and
// again before it expires or when the API says the session ended (a 401,
// or a response handler with access_token_expired), through the engine's
// shared renewal: one login per expiry across clients and instances.
func init() {
	RegisterKind("session-login", KindFunc(openSessionLogin))
}

// loginRead reads getSessionLoginConfig values; errors start with "session-login:".
var loginRead = mapvalue.Reader("session-login")

// Bounds of a login: steps per login, and the size of one login answer.
const (
	maxLoginSteps  = 8
	maxLoginAnswer = 1 << 20
)

var (
	// loginPlaceholder is a reference to a value an earlier step extracted.
	loginPlaceholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
	loginName        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Extracted values with these names give the session's expiry; they are
// not kept as credentials themselves.
const (
	loginExpiresIn = "expires_in"
	loginExpiresAt = "expires_at"
)

// loginStep is one login request and what is kept of its answer.
type loginStep struct {
	name, method, url   string
	headers, query      map[string]string
	form                map[string]string
	json                any
	hasJSON             bool
	basicUser, basicPwd string
	hasBasic            bool
	extract             []loginExtract
	// refusedWhen is a JSON body path whose presence (not null) in a 2xx
	// answer means the login was refused (a JSON-RPC error): the
	// connection needs new credentials, as after a 401.
	refusedWhen string
	// literal are strings sent as they are: they hold a connection value
	// with "{{" in it (a password), which is never read as a reference.
	literal map[string]bool
}

// loginExtract names one value of a login answer: a path in its JSON body
// ("" for the whole body), a response header, or a cookie.
type loginExtract struct {
	name, from, where string
}

// sessionLoginSession is one client's login.
type sessionLoginSession struct {
	BaseSession
	steps    []loginStep
	lifetime time.Duration
	margin   time.Duration
	// names are the credentials a login gives (Ready wants them all).
	names []string
	// secrets are the values the steps send under a secret's name (a
	// password field the form forgot to mark), redacted like input secrets.
	secrets []string
}

// openSessionLogin evaluates getSessionLoginConfig and checks it before
// the client is handed out: every key known, every placeholder naming an
// earlier step's value, every step URL on a host the connector allows.
func openSessionLogin(ctx context.Context, cl *Client) (Session, error) {
	raw, m, r, err := cl.runConfigMethod(ctx, spec.MethodGetSessionLoginConfig)
	if err != nil {
		return nil, err
	}
	s, err := newSessionLogin(raw, bracedValues(cl.conn.ConnectionParameters, cl.conn.ConnectorParameters))
	if err == nil {
		err = s.checkHosts(cl)
	}
	if err != nil {
		return nil, redactedMethodError(m, err, r)
	}
	return s, nil
}

// bracedValues are the connection's string values with "{{" in them.
func bracedValues(values ...map[string]any) []string {
	var out []string
	for _, v := range stringLeaves(values[0], values[1]) {
		if strings.Contains(v, "{{") {
			out = append(out, v)
		}
	}
	return out
}

// newSessionLogin reads getSessionLoginConfig's result; braced are the
// connection's values with "{{" in them.
func newSessionLogin(raw map[string]any, braced []string) (*sessionLoginSession, error) {
	if err := loginKeys("the result", raw, spec.SessionLoginConfigKeys); err != nil {
		return nil, err
	}
	s := &sessionLoginSession{margin: oauth2.DefaultRefreshMargin}
	var err error
	if s.lifetime, err = loginRead.Seconds("lifetime", raw["lifetime"]); err != nil {
		return nil, err
	}
	if raw["lifetime"] != nil && s.lifetime == 0 {
		return nil, errors.New("session-login: lifetime must be at least 1 second (leave it out when the session's lifetime is unknown)")
	}
	if raw["refreshMargin"] != nil {
		if s.margin, err = loginRead.Seconds("refreshMargin", raw["refreshMargin"]); err != nil {
			return nil, err
		}
	}
	list, ok := raw["steps"].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("session-login: steps must be a non-empty array of login requests, not %s", mapvalue.Kind(raw["steps"]))
	}
	if len(list) > maxLoginSteps {
		return nil, fmt.Errorf("session-login: %d steps, more than the %d a login may have", len(list), maxLoginSteps)
	}
	known := map[string]bool{}
	for i, v := range list {
		st, err := readLoginStep(i, v, known, braced)
		if err != nil {
			return nil, err
		}
		s.steps = append(s.steps, st)
		for _, x := range st.extract {
			known[x.name] = true
			if x.name != loginExpiresIn && x.name != loginExpiresAt {
				s.names = append(s.names, x.name)
			}
		}
	}
	if len(s.names) == 0 {
		return nil, errors.New("session-login: no step extracts a value (a token) from its answer")
	}
	s.collectSecrets()
	if known[loginExpiresIn] && known[loginExpiresAt] {
		return nil, errors.New("session-login: extract expires_in or expires_at, not both")
	}
	return s, nil
}

// loginKeys refuses a key of m that is not one of keys, by name.
func loginKeys(where string, m map[string]any, keys []string) error {
	return onlyKeys("session-login: "+where, m, func(k string) bool { return slices.Contains(keys, k) }, strings.Join(keys, ", "))
}

// readLoginStep reads steps[i]; known are the values earlier steps extract.
func readLoginStep(i int, v any, known map[string]bool, braced []string) (loginStep, error) {
	at := fmt.Sprintf("steps[%d]", i)
	raw, ok := v.(map[string]any)
	if !ok {
		return loginStep{}, fmt.Errorf("session-login: %s must be an object, not %s", at, mapvalue.Kind(v))
	}
	if err := loginKeys(at, raw, spec.SessionLoginStepKeys); err != nil {
		return loginStep{}, err
	}
	st := loginStep{name: at}
	var err error
	if raw["name"] != nil {
		if st.name, err = loginRead.String(at+".name", raw["name"]); err != nil {
			return st, err
		}
	}
	if st.url, err = loginRead.String(at+".url", raw["url"]); err != nil {
		return st, err
	}
	if st.url == "" {
		return st, fmt.Errorf("session-login: %s.url is required", at)
	}
	if st.method, err = loginRead.String(at+".method", raw["method"]); err != nil {
		return st, err
	}
	st.method = strings.ToUpper(st.method)
	if st.method == "" {
		st.method = http.MethodPost
	}
	if err := loginRead.OneOf(at+".method", st.method, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch); err != nil {
		return st, err
	}
	for key, dst := range map[string]*map[string]string{"headers": &st.headers, "query": &st.query, "form": &st.form} {
		if *dst, err = loginRead.StringMap(at+"."+key, raw[key]); err != nil {
			return st, err
		}
	}
	st.json, st.hasJSON = raw["json"], raw["json"] != nil
	if st.hasJSON && raw["form"] != nil {
		return st, fmt.Errorf("session-login: %s has both json and form: a request has one body", at)
	}
	if (st.hasJSON || raw["form"] != nil) && st.method == http.MethodGet {
		return st, fmt.Errorf("session-login: %s is a GET, which sends no body (json, form)", at)
	}
	if err := st.readBasic(at, raw["basicAuth"]); err != nil {
		return st, err
	}
	if st.refusedWhen, err = loginRead.String(at+".refusedWhen", raw["refusedWhen"]); err != nil {
		return st, err
	}
	if raw["refusedWhen"] != nil && strings.Trim(st.refusedWhen, ".") == "" {
		return st, fmt.Errorf("session-login: %s.refusedWhen must be a path in the login answer, such as error", at)
	}
	if st.extract, err = readLoginExtract(at, raw["extract"], known); err != nil {
		return st, err
	}
	return st, st.checkPlaceholders(at, known, braced)
}

// readBasic reads basicAuth: {username, password}.
func (st *loginStep) readBasic(at string, v any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("session-login: %s.basicAuth must be an object {username, password}, not %s", at, mapvalue.Kind(v))
	}
	if err := loginKeys(at+".basicAuth", m, []string{"username", "password"}); err != nil {
		return err
	}
	var err error
	if st.basicUser, err = loginRead.String(at+".basicAuth.username", m["username"]); err != nil {
		return err
	}
	if st.basicPwd, err = loginRead.String(at+".basicAuth.password", m["password"]); err != nil {
		return err
	}
	if st.basicUser == "" {
		// An empty username from a missing input would log in as nobody.
		return fmt.Errorf("session-login: %s.basicAuth.username is empty", at)
	}
	st.hasBasic = true
	return nil
}

// readLoginExtract reads extract: name -> body path (a string), or
// {body: path}, {header: name} or {cookie: name}.
func readLoginExtract(at string, v any, known map[string]bool) ([]loginExtract, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("session-login: %s.extract must be an object of name: source, not %s", at, mapvalue.Kind(v))
	}
	var out []loginExtract
	for _, name := range slices.Sorted(maps.Keys(m)) {
		where := fmt.Sprintf("%s.extract.%s", at, name)
		if !loginName.MatchString(name) {
			return nil, fmt.Errorf("session-login: %s: a name is letters, digits and '_'", where)
		}
		if known[name] {
			return nil, fmt.Errorf("session-login: %s: an earlier step extracts %s already", where, name)
		}
		x := loginExtract{name: name, from: "body"}
		switch src := m[name].(type) {
		case string:
			x.where = src
		case map[string]any:
			if len(src) != 1 {
				return nil, fmt.Errorf("session-login: %s must have one key: body, header or cookie", where)
			}
			for k, p := range src {
				if k != "body" && k != "header" && k != "cookie" {
					return nil, fmt.Errorf("session-login: %s has no key %q (body, header or cookie)", where, k)
				}
				s, ok := p.(string)
				if !ok || (s == "" && k != "body") {
					return nil, fmt.Errorf("session-login: %s.%s must be a non-empty string", where, k)
				}
				x.from, x.where = k, s
			}
		default:
			return nil, fmt.Errorf("session-login: %s must be a body path or {body|header|cookie: name}, not %s", where, mapvalue.Kind(src))
		}
		out = append(out, x)
	}
	return out, nil
}

// eachString calls f with every string the step sends, and where it is.
func (st *loginStep) eachString(at string, f func(where, s string) error) error {
	if err := f(at+".url", st.url); err != nil {
		return err
	}
	for key, m := range map[string]map[string]string{"headers": st.headers, "query": st.query, "form": st.form} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := f(at+"."+key+"."+k, m[k]); err != nil {
				return err
			}
		}
	}
	if st.hasBasic {
		if err := f(at+".basicAuth.username", st.basicUser); err != nil {
			return err
		}
		if err := f(at+".basicAuth.password", st.basicPwd); err != nil {
			return err
		}
	}
	return walkStrings(at+".json", st.json, f)
}

// walkStrings calls f with every string leaf of v.
func walkStrings(at string, v any, f func(where, s string) error) error {
	switch v := v.(type) {
	case string:
		return f(at, v)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := walkStrings(at+"."+k, v[k], f); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := walkStrings(fmt.Sprintf("%s[%d]", at, i), e, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPlaceholders: every {{name}} names a value an earlier step extracts,
// and none is in a URL's scheme or host (the host is the author's). A
// string holding a connection value with "{{" (braced) is sent as it is:
// a password such as "a{{token}}" must neither pull an earlier step's
// value into the request nor fail the login.
func (st *loginStep) checkPlaceholders(at string, known map[string]bool, braced []string) error {
	st.literal = map[string]bool{}
	return st.eachString(at, func(where, s string) error {
		if rest, held := withoutValues(s, braced); held {
			if loginPlaceholder.MatchString(rest) {
				return fmt.Errorf("session-login: %s joins a {{reference}} to a connection value that contains \"{{\": write them in separate fields", where)
			}
			st.literal[s] = true
			return nil
		}
		for _, m := range loginPlaceholder.FindAllStringSubmatch(s, -1) {
			if !known[m[1]] || m[1] == loginExpiresIn || m[1] == loginExpiresAt {
				return fmt.Errorf("session-login: %s uses {{%s}}, which no earlier step extracts", where, m[1])
			}
		}
		if where == at+".url" && strings.Contains(s[:urlAuthorityEnd(s)], "{{") {
			return fmt.Errorf("session-login: %s takes its host from a login answer: the host must be one the connector writes", where)
		}
		return nil
	})
}

// withoutValues returns s without the values it holds, and whether it
// held any.
func withoutValues(s string, values []string) (string, bool) {
	held := false
	for _, v := range values {
		if strings.Contains(s, v) {
			s, held = strings.ReplaceAll(s, v, ""), true
		}
	}
	return s, held
}

// urlAuthorityEnd is where raw's scheme and host end.
func urlAuthorityEnd(raw string) int {
	start := strings.Index(raw, "://")
	if start < 0 {
		return len(raw)
	}
	start += 3
	if i := strings.IndexAny(raw[start:], "/?#\\"); i >= 0 {
		return start + i
	}
	return len(raw)
}

// checkHosts holds every step's URL to the host policy: a host the
// connector writes, which connection input may only fill whole DNS labels
// of a pattern the author declared.
func (s *sessionLoginSession) checkHosts(cl *Client) error {
	input := inputValues(cl.conn.ConnectionParameters)
	for i, st := range s.steps {
		u := loginPlaceholder.ReplaceAllString(st.url, "x")
		if _, err := cl.auth.hosts.checkURL(fmt.Sprintf("steps[%d].url", i), u, input, nil); err != nil {
			return err
		}
	}
	return nil
}

// collectSecrets keeps the values the steps send under a name that says
// secret (password, api_key, X-Auth-Token, basicAuth.password).
func (s *sessionLoginSession) collectSecrets() {
	for i, st := range s.steps {
		st.eachString(fmt.Sprintf("steps[%d]", i), func(where, v string) error {
			name := where[strings.LastIndexAny(where, ".]")+1:]
			if v != "" && redact.SecretName(name) && !loginPlaceholder.MatchString(v) {
				s.secrets = append(s.secrets, v)
			}
			return nil
		})
	}
}

// Secrets are the values the steps send under a secret's name.
func (s *sessionLoginSession) Secrets() []string { return s.secrets }

// Start: the first login happens on first use, like a renewal.
func (s *sessionLoginSession) Start(context.Context, *Client) (map[string]any, bool, error) {
	return map[string]any{}, false, nil
}

// CanRenew: the user's credentials can always log in again.
func (s *sessionLoginSession) CanRenew(map[string]any) bool { return true }

// Ready reports whether every value a login gives is there.
func (s *sessionLoginSession) Ready(creds map[string]any) bool {
	for _, n := range s.names {
		if v, _ := creds[n].(string); v == "" {
			return false
		}
	}
	return true
}

// RefreshMargin is the declared refreshMargin, else a minute.
func (s *sessionLoginSession) RefreshMargin() time.Duration { return s.margin }

// Renew logs in: each step in turn, each later one with what the earlier
// ones extracted.
func (s *sessionLoginSession) Renew(ctx context.Context, cl *Client, cur *clientState) (map[string]any, error) {
	r := cur.redact
	vals := map[string]string{}
	for _, st := range s.steps {
		if err := st.run(ctx, cl, vals); err != nil {
			// Values of earlier steps (a temporary token) are secrets too.
			return nil, redactError(err, r.With(slices.Collect(maps.Values(vals))...))
		}
	}
	return s.credentials(vals, cl.eng.now())
}

// credentials are the extracted values and the session's expiry.
func (s *sessionLoginSession) credentials(vals map[string]string, now time.Time) (map[string]any, error) {
	creds := map[string]any{}
	for _, n := range s.names {
		creds[n] = vals[n]
	}
	var exp time.Time
	if v, ok := vals[loginExpiresIn]; ok {
		d, err := loginRead.Seconds("the login answer's expires_in", v)
		if err != nil {
			return nil, err
		}
		exp = now.Add(d)
	} else if v, ok := vals[loginExpiresAt]; ok {
		if exp = parseExpiresAt(v); exp.IsZero() {
			return nil, errors.New("session-login: the login answer's expires_at is neither an RFC 3339 time nor unix seconds")
		}
	} else if s.lifetime > 0 {
		exp = now.Add(s.lifetime)
	}
	if !exp.IsZero() {
		creds["expires_at"] = formatExpiresAt(exp)
	}
	return creds, nil
}

// run sends the step's request and adds what it extracts to vals.
func (st *loginStep) run(ctx context.Context, cl *Client, vals map[string]string) error {
	req, err := st.request(ctx, cl, vals)
	if err != nil {
		return err
	}
	resp, err := cl.tokenHTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("session-login: %s: %w", st.name, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLoginAnswer+1))
	if err != nil {
		return fmt.Errorf("session-login: %s: reading the answer: %w", st.name, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// The user's credentials were refused: logging in again will not
		// help, only new credentials will.
		return &ConnectionError{Key: KeyConnectionIsDefunct, Status: resp.StatusCode,
			Message: fmt.Sprintf("session-login: %s: the login was refused (HTTP %d): check the credentials", st.name, resp.StatusCode)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Errorf("session-login: %s: the login URL answered HTTP %d", st.name, resp.StatusCode)
	case len(body) > maxLoginAnswer:
		return fmt.Errorf("session-login: %s: the login answer is larger than %d bytes", st.name, maxLoginAnswer)
	case st.refusedIn(body):
		return &ConnectionError{Key: KeyConnectionIsDefunct, Status: resp.StatusCode,
			Message: fmt.Sprintf("session-login: %s: the login was refused (the answer has %s): check the credentials", st.name, st.refusedWhen)}
	}
	return st.extractFrom(resp, body, vals)
}

// refusedIn reports whether body, a JSON answer, has a non-null value at
// refusedWhen.
func (st *loginStep) refusedIn(body []byte) bool {
	if st.refusedWhen == "" {
		return false
	}
	var cur any
	if json.Unmarshal(body, &cur) != nil {
		return false
	}
	return atPath(cur, st.refusedWhen) != nil
}

// atPath returns the value at path (dot-separated keys, array indexes) in
// a decoded JSON document, or nil when there is none.
func atPath(doc any, path string) any {
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// request builds the step's request with vals filled in.
func (st *loginStep) request(ctx context.Context, cl *Client, vals map[string]string) (*http.Request, error) {
	fill := func(s string, escape func(string) string) string {
		if st.literal[s] {
			return s
		}
		return loginPlaceholder.ReplaceAllStringFunc(s, func(p string) string {
			return escape(vals[loginPlaceholder.FindStringSubmatch(p)[1]])
		})
	}
	same := func(s string) string { return s }
	u, err := url.Parse(fill(st.url, url.QueryEscape))
	if err != nil {
		return nil, fmt.Errorf("session-login: %s.url does not parse", st.name)
	}
	if len(st.query) > 0 {
		q := u.Query()
		for k, v := range st.query {
			q.Set(k, fill(v, same))
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	var contentType string
	switch {
	case st.hasJSON:
		data, err := json.Marshal(fillJSON(st.json, func(s string) string { return fill(s, same) }))
		if err != nil {
			return nil, fmt.Errorf("session-login: %s.json: %w", st.name, err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	case st.form != nil:
		f := url.Values{}
		for k, v := range st.form {
			f.Set(k, fill(v, same))
		}
		body, contentType = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, st.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("session-login: %s: the request cannot be built", st.name)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range st.headers {
		req.Header.Set(k, fill(v, same))
	}
	if st.hasBasic {
		req.SetBasicAuth(fill(st.basicUser, same), fill(st.basicPwd, same))
	}
	return req, nil
}

// fillJSON copies v with f applied to every string leaf.
func fillJSON(v any, f func(string) string) any {
	switch v := v.(type) {
	case string:
		return f(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = fillJSON(e, f)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = fillJSON(e, f)
		}
		return out
	}
	return v
}

// extractFrom adds the step's values from its answer to vals; a value
// missing from the answer is an error naming it.
func (st *loginStep) extractFrom(resp *http.Response, body []byte, vals map[string]string) error {
	var doc any
	decoded := false
	for _, x := range st.extract {
		var v string
		switch x.from {
		case "header":
			v = resp.Header.Get(x.where)
		case "cookie":
			for _, c := range resp.Cookies() {
				if c.Name == x.where {
					v = c.Value
				}
			}
		default:
			if !decoded {
				if json.Unmarshal(body, &doc) != nil {
					doc = nil
				}
				decoded = true
			}
			var err error
			if v, err = bodyValue(doc, body, x.where); err != nil {
				return fmt.Errorf("session-login: %s: %s: %w", st.name, x.name, err)
			}
		}
		if v == "" {
			return fmt.Errorf("session-login: %s: the login answer has no %s %q for %s", st.name, x.from, x.where, x.name)
		}
		vals[x.name] = v
	}
	return nil
}

// bodyValue finds the scalar at path (dot-separated keys, array indexes)
// in the decoded body; "" or "." is the whole body as text.
func bodyValue(doc any, body []byte, path string) (string, error) {
	if path == "" || path == "." {
		if s, ok := doc.(string); ok {
			return s, nil
		}
		if doc != nil {
			if _, ok := doc.(float64); !ok {
				return "", errors.New("the login answer is not a single value")
			}
		}
		return strings.TrimSpace(string(body)), nil
	}
	cur := atPath(doc, path)
	if cur == nil {
		return "", nil
	}
	if _, ok := cur.(map[string]any); ok {
		return "", fmt.Errorf("the login answer's %s is an object, not a value", path)
	}
	if _, ok := cur.([]any); ok {
		return "", fmt.Errorf("the login answer's %s is an array, not a value", path)
	}
	return loginRead.String(path, cur)
}
