package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/formulas"
)

// transport applies a connection's credentials to requests, checks their
// host, evaluates response handlers, refreshes expired credentials once and
// retries rate-limited requests.
type transport struct{ client *Client }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cl := t.client
	ctx := req.Context()
	if cl.unsaved.Load() {
		// The hook refused the last credentials: try again before using them.
		if err := cl.persist(ctx, cl.state.Load(), "retry"); err != nil {
			return nil, err
		}
	}
	if err := cl.checkDefunct(ctx); err != nil {
		return nil, err
	}
	if _, ok := cl.eng.unstored.Load(cl.conn.ID); cl.conn.ID != "" && ok {
		// A renewal's credentials did not reach the store: try again now,
		// so that other instances and restarts find them. A failure is
		// retried, and holds back the next renewal (flushUnstored).
		unlock := cl.lock()
		cl.flushUnstored(ctx)
		unlock()
	}
	if st := cl.state.Load(); cl.needsRefresh(st) {
		// Renew before expiry; a passing failure (a 5xx, a timeout) leaves
		// the current token in use while it is still valid, unless the API
		// refused it.
		if err := cl.refresh(ctx, st.version, st.rejected.Load()); err != nil {
			if !cl.passingFailure(ctx, err) || !cl.usable(st) {
				return nil, err
			}
			cl.eng.logger.Warn("connspec: renewing before expiry failed; the current credentials stay in use", "connection", cl.conn.ID, "error", st.redact.String(err.Error()))
		}
	}
	refreshed := false
	for try := 1; ; try++ {
		st := cl.state.Load()
		out, err := cl.prepare(req, st, try > 1)
		if err != nil {
			return nil, err
		}
		resp, err := cl.wireOf(st).RoundTrip(out)
		if err != nil {
			return nil, redactError(err, st.redact)
		}
		v, err := cl.classify(resp, st)
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		if v.expired && cl.canRefresh(st) {
			// Never sent again: whether or not the renewal below works.
			cl.reject(st)
		}
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		switch {
		case v.expired && !refreshed && replayable && cl.canRefresh(st):
			drain(resp)
			if err := cl.refresh(ctx, st.version, true); err != nil {
				return nil, err
			}
			refreshed = true
			continue
		case v.rateLimited && try < cl.eng.retries && replayable:
			wait, ok := retryDelay(resp, try, cl.eng.maxRetryWait)
			if !ok {
				break
			}
			drain(resp)
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		if v.err != nil {
			resp.Body.Close()
			return nil, v.err
		}
		return resp, nil
	}
}

// prepare clones req for the wire: URL joined to baseUri and checked, then
// headers, query and Basic auth of the current configuration, then what the
// auth kind adds (a signature, a token header).
func (cl *Client) prepare(req *http.Request, st *clientState, replay bool) (*http.Request, error) {
	cfg := st.config
	u := cfg.resolve(req.URL)
	// A relative URL was joined to baseUri; only absolute ones need a check.
	if req.URL.IsAbs() && !cfg.allows(u) {
		return nil, &HostError{Host: hostKey(u), Allowed: cfg.allowed}
	}
	out := req.Clone(req.Context())
	out.URL, out.Host = u, ""
	if replay && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	for k, vs := range cfg.headers {
		out.Header[k] = vs
	}
	if len(cfg.query) > 0 {
		q := u.Query()
		for k, vs := range cfg.query {
			q[k] = vs
		}
		out.URL.RawQuery = q.Encode()
	}
	if cfg.basic != nil {
		out.SetBasicAuth(cfg.basic[0], cfg.basic[1])
	}
	if err := cl.session.Apply(out, cl, st); err != nil {
		return nil, err
	}
	return out, nil
}

// verdict is what a response means for the connection.
type verdict struct {
	expired, rateLimited bool
	// err is returned to the caller instead of the response.
	err error
}

// classify evaluates the response handlers (first match wins), then the
// status: 401 means expired credentials, 429 rate limiting.
func (cl *Client) classify(resp *http.Response, st *clientState) (verdict, error) {
	if st.config.handlers != nil {
		matched, v, err := cl.runHandlers(resp, st)
		if err != nil || matched {
			return v, err
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return verdict{expired: true}, nil
	case http.StatusTooManyRequests:
		return verdict{rateLimited: true}, nil
	}
	if ec, ok := cl.session.(ExpiryClassifier); ok && ec.MayBeExpired(resp, st.credentials) {
		body, whole, err := peekBody(resp, maxExpiryBody)
		if err != nil {
			return verdict{}, redactError(err, st.redact)
		}
		return verdict{expired: whole && ec.Expired(resp, body)}, nil
	}
	return verdict{}, nil
}

// maxExpiryBody bounds what an ExpiryClassifier reads of an answer: an
// error document, not a payload.
const maxExpiryBody = 64 << 10

// peekBody reads up to limit bytes of resp's body and puts them back in
// front of the rest: the caller still reads the whole body, never a cut
// one. whole is false when the body is longer than limit (data is then
// its first limit+1 bytes).
func peekBody(resp *http.Response, limit int) (data []byte, whole bool, err error) {
	data, err = io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		resp.Body.Close()
		return nil, false, err
	}
	if len(data) > limit {
		rest := resp.Body
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), rest), rest}
		return data, false, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return data, true, nil
}

// runHandlers reads the body (keeping it for the caller) and evaluates the
// responseHandlers against {response: {status, headers, data}}.
func (cl *Client) runHandlers(resp *http.Response, st *clientState) (bool, verdict, error) {
	// Too large to judge by its content: the handlers see no data.
	data, whole, err := peekBody(resp, MaxResponseBody)
	if err != nil {
		return false, verdict{}, redactError(err, st.redact)
	}
	var body any
	if whole {
		body = decodeBody(resp.Header.Get("Content-Type"), data)
	}
	headers := make(map[string]any, len(resp.Header))
	for k, vs := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	vars := cl.vars(st.credentials)
	vars["response"] = map[string]any{"status": int64(resp.StatusCode), "headers": headers, "data": body}
	m := cl.auth.Methods["makeApiClient"]
	out, err := st.config.handlers.Evaluate(vars)
	if err != nil {
		return false, verdict{}, redactedMethodError(m, err, st.redact)
	}
	list, _ := out.([]any)
	for _, item := range list {
		h, ok := item.(map[string]any)
		if !ok || !formulas.Truthy(h["match"]) {
			continue
		}
		if formulas.Truthy(h["isSuccess"]) {
			return true, verdict{}, nil
		}
		e, _ := h["error"].(map[string]any)
		key, _ := e["key"].(string)
		msg, _ := e["message"].(string)
		msg = st.redact.String(msg)
		switch key {
		case KeyAccessTokenExpired:
			return true, verdict{expired: true, err: &ConnectionError{Key: key, Message: msg, Status: resp.StatusCode}}, nil
		case KeyRateLimitExceeded:
			return true, verdict{rateLimited: true, err: &ConnectionError{Key: key, Message: msg, Status: resp.StatusCode}}, nil
		case "":
			return true, verdict{err: &HTTPError{Method: resp.Request.Method, URL: st.redact.String(resp.Request.URL.String()), Status: resp.StatusCode, Body: data, Message: msg}}, nil
		default:
			return true, verdict{err: &ConnectionError{Key: key, Message: msg, Status: resp.StatusCode}}, nil
		}
	}
	return false, verdict{}, nil
}

// retryDelay is how long to wait before try+1 after a 429: Retry-After
// (seconds or an HTTP date) when given, else exponential backoff with
// jitter. ok is false when the wait would be longer than maxWait.
func retryDelay(resp *http.Response, try int, maxWait time.Duration) (time.Duration, bool) {
	if ra := strings.TrimSpace(resp.Header.Get("Retry-After")); ra != "" {
		var d time.Duration
		if secs, err := strconv.Atoi(ra); err == nil {
			d = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(ra); err == nil {
			d = time.Until(at)
		}
		d = max(d, 0)
		return d, d <= maxWait
	}
	d := time.Duration(250<<(try-1)) * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d) / 2))
	return min(d, maxWait), true
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drain reads a little of a body before closing it so the connection can
// be reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// passingFailure reports whether a failed renewal before expiry may leave
// the still-valid credentials in use: a transient token error, or the store
// failing to answer. A refused refresh token (defunct connection), a
// refusal by the token endpoint and the caller's own deadline may not.
func (cl *Client) passingFailure(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrConnectionIsDefunct) {
		return false
	}
	if transientTokenError(err) {
		return true
	}
	var te *oauth2.TokenError
	return !errors.As(err, &te) && !errors.As(err, new(*MethodError))
}
