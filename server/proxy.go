package server

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
)

// replayLimit is the largest request body the proxy keeps in memory so it
// can send it again after refreshing expired credentials; larger bodies
// stream straight through and a 401 for them is returned as it is.
const replayLimit = 1 << 20

// hopHeaders are connection-level headers a proxy must not forward
// (RFC 9110, section 7.6.1), plus the caller's own credentials for the
// proxy and cookies meant for this server.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Authorization", "Cookie",
}

// copyBuffers are the buffers responses are copied through, reused
// between requests.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// proxy forwards a request to the connection's API: the path after the
// connection id is resolved against the connector's baseUri, and the
// engine's client applies credentials, refreshes them on a 401 and refuses
// other hosts. Bodies stream both ways.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if allowed, err := s.limitsAllow(r.Context(), id); err != nil {
		s.log.Error("proxy: reading a connection for a limited key", "connection", id, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the connection could not be read")
		return
	} else if !allowed {
		// The same answer as for an unknown id: a limited key cannot learn
		// which other connections exist, or their state.
		s.proxyFailed(w, id, "", nil, store.ErrNotFound)
		return
	}
	cc, err := s.client(r.Context(), id)
	if err != nil {
		s.proxyFailed(w, id, "", nil, err)
		return
	}
	s.traceConnector(r, cc.connector)
	out, err := s.outgoing(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	resp, err := cc.client.HTTPClient().Do(out)
	if err != nil {
		s.proxyFailed(w, id, cc.connector, cc.client, err)
		return
	}
	defer resp.Body.Close()
	s.metrics.observeProxy(cc.connector, resp.StatusCode)
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		redactHeaders(h, cc.client)
		// Providers echo credentials in error bodies ("invalid key
		// sk_live_…"): a small error body is read whole and redacted.
		body, err := redactErrorBody(resp, h, cc.client)
		if err != nil {
			s.errorBodyWithheld(w, id, resp.StatusCode, err)
			return
		}
		resp.Body = body
	}
	removeHopHeaders(h, resp.Header)
	h.Del("Set-Cookie") // the API's cookies are for the API, not for this server's callers
	w.WriteHeader(resp.StatusCode)
	// Flush as data arrives: event streams and long downloads reach the
	// caller without waiting for the end.
	rc := http.NewResponseController(w)
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	buf := *bufp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush()
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				s.log.Warn("proxy: the API's response broke off", "connection", id, "error", cc.client.Redact(rerr.Error()))
			}
			return
		}
	}
}

// errorBodyLimit is the largest error body the proxy redacts, before and
// after decompression; a larger one is withheld.
const errorBodyLimit = 1 << 20

// withheld explains an error body the proxy could not check for secrets.
type withheld struct{ reason string }

func (w *withheld) Error() string { return w.reason }

// redactErrorBody returns the error body of resp with the connection's
// secrets replaced, fixing the response headers to match. The body is
// decoded first (gzip, x-gzip, deflate, stacked in any order); a body the
// proxy cannot read whole (another encoding, larger than errorBodyLimit,
// broken) is never passed on: the result is a *withheld error instead.
func redactErrorBody(resp *http.Response, h http.Header, cl *engine.Client) (io.ReadCloser, error) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit+1))
	if err != nil {
		return nil, &withheld{"the API's error body broke off"}
	}
	if len(raw) > errorBodyLimit {
		return nil, &withheld{"the API's error body is larger than 1 MiB"}
	}
	plain, err := decodeBody(raw, resp.Header.Values("Content-Encoding"))
	if err != nil {
		return nil, err
	}
	h.Del("Content-Encoding")
	redacted := []byte(cl.Redact(string(plain)))
	h.Set("Content-Length", strconv.Itoa(len(redacted)))
	return io.NopCloser(bytes.NewReader(redacted)), nil
}

// decodeBody undoes the content codings of a body, last applied first.
func decodeBody(body []byte, header []string) ([]byte, error) {
	var codings []string
	for _, v := range header {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	for i := len(codings) - 1; i >= 0; i-- {
		var zr io.Reader
		var err error
		switch codings[i] {
		case "gzip", "x-gzip":
			zr, err = gzip.NewReader(bytes.NewReader(body))
		case "deflate":
			// RFC 9110's deflate is zlib; some servers send raw DEFLATE.
			if zr, err = zlib.NewReader(bytes.NewReader(body)); err != nil {
				zr, err = flate.NewReader(bytes.NewReader(body)), nil
			}
		default:
			return nil, &withheld{fmt.Sprintf("the API's error body is in a content coding the proxy cannot read (%.40q)", codings[i])}
		}
		if err != nil {
			return nil, &withheld{"the API's error body is not valid " + codings[i]}
		}
		plain, err := io.ReadAll(io.LimitReader(zr, errorBodyLimit+1))
		if err != nil {
			return nil, &withheld{"the API's error body is not valid " + codings[i]}
		}
		if len(plain) > errorBodyLimit {
			return nil, &withheld{"the API's error body is larger than 1 MiB once decompressed"}
		}
		body = plain
	}
	return body, nil
}

// acceptEncoding is the Accept-Encoding the proxy sends: gzip when the
// caller takes it (passed on as it is when the answer is a success), else
// identity. The caller's own list never reaches the API, so an error body
// comes in a coding the proxy can decode and redact.
func acceptEncoding(caller http.Header) string {
	for _, v := range caller.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if (name == "gzip" || name == "x-gzip" || name == "*") && !zeroQuality(params) {
				return "gzip"
			}
		}
	}
	return "identity"
}

// zeroQuality reports whether Accept-Encoding parameters say q=0.
func zeroQuality(params string) bool {
	q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
	return err == nil && v == 0
}

// proxiedPath checks the part of a proxy URL after the connection id (as
// sent, still escaped) and returns it decoded. It must stay under the
// connector's baseUri: dot-segments, plain or encoded in any case (".%2E",
// "%2e%2e;x"), encoded or literal backslashes, encoded slashes an API might
// decode into segments, escapes encoded twice, and control characters are
// refused, whatever the API would make of them.
func proxiedPath(escaped string) (string, error) {
	for seg := range strings.SplitSeq(escaped, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", errors.New("the proxied path has a malformed %-escape")
		}
		name, _, _ := strings.Cut(dec, ";") // "..;x" is ".." to some servers
		switch {
		case dec == "." || dec == ".." || name == "." || name == "..":
			return "", errors.New("the proxied path must not contain . or .. segments (plain or %2e-encoded): it must stay under the connector's API base path")
		case strings.ContainsAny(dec, "/\\"):
			return "", errors.New("the proxied path must not contain encoded slashes (%2F) or backslashes")
		case hasEncodedSeparator(dec):
			return "", errors.New("the proxied path must not contain doubly encoded dots, slashes or backslashes (%252e, %252f, %255c)")
		case strings.ContainsFunc(dec, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", errors.New("the proxied path must not contain control characters")
		}
	}
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return "", errors.New("the proxied path has a malformed %-escape")
	}
	return path, nil
}

// hasEncodedSeparator reports whether s still holds %2e, %2f or %5c (any case).
func hasEncodedSeparator(s string) bool {
	if !strings.Contains(s, "%") {
		return false
	}
	low := strings.ToLower(s)
	return strings.Contains(low, "%2e") || strings.Contains(low, "%2f") || strings.Contains(low, "%5c")
}

// outgoing builds the request for the API from the caller's request.
func (s *Server) outgoing(r *http.Request) (*http.Request, error) {
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/proxy/"), "/")
	path, err := proxiedPath(rest)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path, "/") || strings.Contains(path, "://") {
		return nil, errors.New("the path after the connection id must be relative to the connector's API")
	}
	u := &url.URL{Path: "/" + path, RawQuery: r.URL.RawQuery}
	body := r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "", body)
	if err != nil {
		return nil, err
	}
	out.URL = u
	out.ContentLength = r.ContentLength
	if r.ContentLength > 0 && r.ContentLength <= replayLimit {
		// Small enough to keep: the engine may send it twice (refresh on 401).
		data, err := io.ReadAll(io.LimitReader(r.Body, replayLimit+1))
		if err != nil {
			return nil, errors.New("reading the request body: " + err.Error())
		}
		out.Body = io.NopCloser(bytes.NewReader(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	out.Header = r.Header.Clone()
	removeHopHeaders(out.Header, r.Header)
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
		out.Header.Del(k)
	}
	out.Header.Set("Accept-Encoding", acceptEncoding(r.Header))
	return out, nil
}

// structuralHeaders carry no text of the provider's: they are never where
// a request is echoed, and redacting them could only break the answer (a
// credential field "json" would turn Content-Type into nonsense).
var structuralHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true, "Content-Range": true,
	"Date": true, "Last-Modified": true, "Etag": true, "Expires": true, "Cache-Control": true, "Vary": true, "Age": true,
	"Accept-Ranges": true, "Retry-After": true,
}

// redactHeaders hides the connection's credentials in the headers of an API
// error or redirect before they reach the proxy's caller, who must never see
// a token: providers echo what they were sent in WWW-Authenticate, in debug
// headers, in a Location. (Successful answers pass untouched; so do bodies,
// which are streamed as they are.)
func redactHeaders(h http.Header, cl *engine.Client) {
	for k, vs := range h {
		if structuralHeaders[k] {
			continue
		}
		var out []string // a copy: the slice is the API response's
		for i, v := range vs {
			if r := cl.Redact(v); r != v {
				if out == nil {
					out = slices.Clone(vs)
				}
				out[i] = r
			}
		}
		if out != nil {
			h[k] = out
		}
	}
}

// removeHopHeaders deletes the hop-by-hop headers, including those the
// Connection header names.
func removeHopHeaders(h, from http.Header) {
	for _, v := range from.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// errorBodyWithheld answers in place of an API error whose body could not
// be checked for secrets: the API's status, and the proxy's own JSON error.
func (s *Server) errorBodyWithheld(w http.ResponseWriter, id string, status int, err error) {
	h := w.Header()
	for k := range h {
		delete(h, k) // the API's headers described the body that is not sent
	}
	s.log.Warn("proxy: an API error body was withheld", "connection", id, "status", status, "reason", err.Error())
	writeError(w, status, "error_body_withheld", fmt.Sprintf("the API answered %d; its body was withheld because %s, so it could not be checked for credentials", status, err.Error()))
}

// limitsAllow reports whether the caller's key may use connection id: any
// key without an account or connector limit may; a limited one only on a
// connection of its account and connector, read from the store (not the
// client cache) before anything is done with the connection.
func (s *Server) limitsAllow(ctx context.Context, id string) (bool, error) {
	c := callerOf(ctx)
	if c.key == nil || (c.key.Account == "" && c.key.Connector == "") {
		return true, nil
	}
	info, err := s.cfg.Store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.allows(info.Account, info.Connector), nil
}

// proxyFailed answers a request the proxy could not complete, in words
// free of secrets.
func (s *Server) proxyFailed(w http.ResponseWriter, id, connector string, cl *engine.Client, err error) {
	msg := err.Error()
	if cl != nil {
		msg = cl.Redact(msg)
	}
	s.metrics.observeProxy(connector, 0)
	var hostErr *engine.HostError
	var connErr *engine.ConnectionError
	var inputErr *engine.InputError
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no connection with this id")
	case errors.Is(err, store.ErrUnavailable):
		// This service's failure, not the API's; the driver's text (which
		// may name the database's address and user) goes to the log only.
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the credential store cannot be reached; try again later")
	case errors.As(err, &hostErr):
		writeError(w, http.StatusForbidden, "host_refused", msg)
	case errors.Is(err, engine.ErrConnectionIsDefunct):
		writeError(w, http.StatusConflict, "needs_reauth", "the provider no longer accepts this connection's credentials: the user must connect again")
	case errors.As(err, &connErr):
		writeError(w, http.StatusBadGateway, connErr.Key, msg)
	case errors.As(err, &inputErr), errors.Is(err, engine.ErrAuthorizationRequired):
		writeError(w, http.StatusConflict, "connection_unusable", msg)
	default:
		writeError(w, http.StatusBadGateway, "upstream_error", msg)
	}
	s.log.Warn("proxy request failed", "connection", id, "connector", connector, "error", msg)
}
