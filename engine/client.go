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
	"strings"
	"sync"
	"sync/atomic"

	"github.com/connspec/connspec/spec"
)

// Client is an authenticated client for one connection. Its HTTPClient
// sends requests to the connector's API with the credentials applied, and
// refreshes them (once, shared by concurrent requests) when they expire.
type Client struct {
	eng       *Engine
	connector *Connector
	auth      *Auth
	conn      Connection
	http      *http.Client

	state     atomic.Pointer[clientState]
	refreshMu sync.Mutex
	// unsaved is set while the credentials hook has not accepted the
	// current credentials; the next request tries it again first.
	unsaved atomic.Bool
	// noRefresh is set on the clients given to methods that obtain or
	// refresh credentials themselves, so they never recurse into a refresh.
	noRefresh bool
}

// clientState is one version of a connection's credentials and the API
// configuration makeApiClient computed from them.
type clientState struct {
	version     int
	credentials map[string]any
	config      *apiConfig
	redact      *redactor
}

// Client returns an authenticated client for conn. It validates the
// connection input, obtains credentials (stored, or from the input), runs
// makeApiClient and checks the result.
func (e *Engine) Client(ctx context.Context, conn Connection) (*Client, error) {
	c, ok := e.Connector(conn.Connector)
	if !ok {
		return nil, fmt.Errorf("no connector %q is registered", conn.Connector)
	}
	return c.client(ctx, e, conn)
}

func (c *Connector) client(ctx context.Context, e *Engine, conn Connection) (*Client, error) {
	a, err := c.auth(conn.Option)
	if err != nil {
		return nil, err
	}
	if err := validateInput(c, a, conn.ConnectionParameters); err != nil {
		return nil, err
	}
	if a.Methods[spec.MethodMakeAPIClient] == nil {
		return nil, fmt.Errorf("connector %s has no makeApiClient for this option", c.Spec.Key)
	}
	cl := &Client{eng: e, connector: c, auth: a, conn: conn}
	cl.conn.Credentials = nil
	cl.http = &http.Client{Transport: &transport{client: cl}, CheckRedirect: cl.checkRedirect}
	var anonymous *Client
	if m := a.Methods[spec.MethodGetCredentialsFromConnectionParameters]; m != nil && m.Script != nil && len(conn.Credentials) == 0 {
		// Best effort: a makeApiClient that needs credentials cannot build it.
		if st, err := cl.buildState(ctx, map[string]any{}, 0); err == nil {
			anonymous = cl.methodClient(st)
		}
	}
	creds, changed, err := e.obtainCredentials(ctx, a, conn, anonymous)
	if err != nil {
		return nil, err
	}
	st, err := cl.buildState(ctx, creds, 1)
	if err != nil {
		return nil, err
	}
	cl.state.Store(st)
	if changed {
		if err := cl.persist(ctx, st, "connection input"); err != nil {
			return nil, err
		}
	}
	return cl, nil
}

// buildState runs makeApiClient for one version of the credentials.
func (cl *Client) buildState(ctx context.Context, creds map[string]any, version int) (*clientState, error) {
	r := newRedactor(creds, cl.conn.ConnectorParameters)
	m := cl.auth.Methods[spec.MethodMakeAPIClient]
	vars := cl.vars(creds)
	out, err := cl.eng.runMethod(ctx, m, vars, nil, r)
	if err != nil {
		return nil, err
	}
	untrusted := stringLeaves(cl.conn.ConnectionParameters, creds)
	cfg, err := parseAPIConfig(out, cl.auth.Spec.AllowedHosts, untrusted)
	if err != nil {
		return nil, redactError(methodError(m, err), r)
	}
	if m.ResponseHandlers != nil {
		cfg.handlers = m.ResponseHandlers
	}
	// Values derived from credentials contain them and are redacted through
	// them; a header or parameter named like a secret is redacted whole too.
	extra := make([]string, 0, 4)
	for k, vs := range cfg.headers {
		if secretName(k) {
			extra = append(extra, vs...)
		}
	}
	for k, vs := range cfg.query {
		if secretName(k) {
			extra = append(extra, vs...)
		}
	}
	if cfg.basic != nil {
		extra = append(extra, cfg.basic[1], basicAuthValue(cfg.basic[0], cfg.basic[1]))
	}
	return &clientState{version: version, credentials: creds, config: cfg, redact: r.with(extra...)}, nil
}

// vars are the variables every method of the connection receives.
func (cl *Client) vars(creds map[string]any) map[string]any {
	return map[string]any{
		"credentials":          creds,
		"connectorParameters":  orEmpty(cl.conn.ConnectorParameters),
		"connectionParameters": orEmpty(cl.conn.ConnectionParameters),
	}
}

// HTTPClient returns the authenticated *http.Client. Relative URLs are
// joined to the connector's baseUri; absolute URLs must be on a host the
// connector allows.
func (cl *Client) HTTPClient() *http.Client { return cl.http }

// Credentials returns a copy of the current credentials.
func (cl *Client) Credentials() map[string]any { return maps.Clone(cl.state.Load().credentials) }

// Connection returns the connection with its current credentials.
func (cl *Client) Connection() Connection {
	c := cl.conn
	c.Credentials = cl.Credentials()
	return c
}

// BaseURL returns the API base URL of the current configuration.
func (cl *Client) BaseURL() *url.URL {
	u := *cl.state.Load().config.base
	return &u
}

// Redact replaces every credential value in s, for logs and output.
func (cl *Client) Redact(s string) string { return cl.state.Load().redact.redact(s) }

// persist tells the credentials hook about st.
func (cl *Client) persist(ctx context.Context, st *clientState, reason string) error {
	h := cl.eng.onCredentials
	if h == nil {
		return nil
	}
	change := CredentialsChange{Connection: cl.conn, Version: st.version, Reason: reason}
	change.Connection.Credentials = maps.Clone(st.credentials)
	if err := h(ctx, change); err != nil {
		cl.unsaved.Store(true)
		return redactError(fmt.Errorf("saving new credentials: %w", err), st.redact)
	}
	cl.unsaved.Store(false)
	return nil
}

// canRefresh reports whether expired credentials can be renewed.
func (cl *Client) canRefresh() bool {
	return !cl.noRefresh && cl.auth.hasMethod(spec.MethodRefreshCredentials)
}

// methodClient returns a client over the same credentials that does not
// refresh, for methods that obtain or refresh credentials themselves.
func (cl *Client) methodClient(st *clientState) *Client {
	mc := &Client{eng: cl.eng, connector: cl.connector, auth: cl.auth, conn: cl.conn, noRefresh: true}
	mc.http = &http.Client{Transport: &transport{client: mc}, CheckRedirect: mc.checkRedirect}
	mc.state.Store(st)
	return mc
}

// refresh renews the credentials of version seen. Concurrent callers share
// one refresh: whoever takes the lock second finds a newer version and uses
// it instead of refreshing again.
func (cl *Client) refresh(ctx context.Context, seen int) error {
	cl.refreshMu.Lock()
	defer cl.refreshMu.Unlock()
	cur := cl.state.Load()
	if cur.version != seen {
		return nil
	}
	m := cl.auth.Methods[spec.MethodRefreshCredentials]
	out, err := cl.eng.runMethod(ctx, m, cl.vars(maps.Clone(cur.credentials)), cl.methodClient(cur), cur.redact)
	if err != nil {
		return err
	}
	update, ok := out.(map[string]any)
	if !ok {
		return methodError(m, fmt.Errorf("must return an object of credentials, not %s", describeValue(out)))
	}
	creds := maps.Clone(cur.credentials)
	maps.Copy(creds, update)
	next, err := cl.buildState(ctx, creds, cur.version+1)
	if err != nil {
		return err
	}
	cl.state.Store(next)
	cl.eng.logger.Debug("connspec: credentials refreshed", "connector", cl.connector.Spec.Key, "connection", cl.conn.ID, "version", next.version)
	return cl.persist(ctx, next, "refresh")
}

func (cl *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !cl.state.Load().config.allows(req.URL) {
		// Do not follow: the credentials would go along to another host.
		return http.ErrUseLastResponse
	}
	return nil
}

// RequestOption adds to a request made with the JSON helpers.
type RequestOption func(*http.Request)

// WithQuery adds query parameters.
func WithQuery(q url.Values) RequestOption {
	return func(r *http.Request) {
		v := r.URL.Query()
		for k, vs := range q {
			for _, x := range vs {
				v.Add(k, x)
			}
		}
		r.URL.RawQuery = v.Encode()
	}
}

// WithHeader sets a request header.
func WithHeader(key, value string) RequestOption {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

// Get sends GET path and returns the decoded JSON body (or the text of a
// non-JSON body). A non-2xx answer is an *HTTPError.
func (cl *Client) Get(ctx context.Context, path string, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodGet, path, nil, opts...)
}

// Post sends body as JSON.
func (cl *Client) Post(ctx context.Context, path string, body any, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodPost, path, body, opts...)
}

// Put sends body as JSON.
func (cl *Client) Put(ctx context.Context, path string, body any, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodPut, path, body, opts...)
}

// Patch sends body as JSON.
func (cl *Client) Patch(ctx context.Context, path string, body any, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodPatch, path, body, opts...)
}

// Delete sends DELETE path.
func (cl *Client) Delete(ctx context.Context, path string, opts ...RequestOption) (any, error) {
	return cl.Do(ctx, http.MethodDelete, path, nil, opts...)
}

// maxBody bounds what the JSON helpers and response handlers read.
const maxBody = 32 << 20

// Do sends one request with an optional JSON body and decodes the answer.
func (cl *Client) Do(ctx context.Context, method, path string, body any, opts ...RequestOption) (any, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", method, cl.Redact(path), errors.Unwrap(err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for _, o := range opts {
		o(req)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{Method: method, URL: cl.Redact(resp.Request.URL.String()), Status: resp.StatusCode, Body: data}
	}
	return decodeBody(resp.Header.Get("Content-Type"), data), nil
}

// decodeBody returns JSON as Go values, anything else as text.
func decodeBody(contentType string, data []byte) any {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	if strings.Contains(contentType, "json") || trimmed[0] == '{' || trimmed[0] == '[' {
		var v any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if dec.Decode(&v) == nil {
			return normalizeJSON(v)
		}
	}
	return string(data)
}

// normalizeJSON turns whole float64 numbers into int64, as formulas and
// JavaScript results use.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeJSON(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalizeJSON(x)
		}
	case float64:
		if t == float64(int64(t)) && t < 1<<53 && t > -(1<<53) {
			return int64(t)
		}
	}
	return v
}

// unwrapURLError drops net/http's *url.Error wrapper around the engine's own
// errors, whose messages already say what happened.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var ce *ConnectionError
		var he *HostError
		var me *MethodError
		if errors.As(ue.Err, &ce) || errors.As(ue.Err, &he) || errors.As(ue.Err, &me) {
			return ue.Err
		}
	}
	return err
}

// secretName reports whether a header or query parameter name suggests its
// value is a credential.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "key", "token", "secret", "sign", "pass", "session", "cookie", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
