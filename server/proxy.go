package server

import (
	"bytes"
	"compress/gzip"
	"errors"
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
	cc, err := s.client(r.Context(), id)
	if err != nil {
		s.proxyFailed(w, id, "", nil, err)
		return
	}
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
		resp.Body = redactErrorBody(resp, h, cc.client)
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

// errorBodyLimit is the largest error body the proxy redacts; a larger
// one (rare for errors) streams through as it is.
const errorBodyLimit = 1 << 20

// redactErrorBody returns the error body of resp with the connection's
// secrets replaced, fixing the response headers to match. A gzip body is
// decompressed first; a body in another encoding, or larger than
// errorBodyLimit, is passed on unchanged.
func redactErrorBody(resp *http.Response, h http.Header, cl *engine.Client) io.ReadCloser {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if enc != "" && enc != "identity" && enc != "gzip" {
		return resp.Body
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit+1))
	if err != nil || len(head) > errorBodyLimit {
		// Too large (or broken): what was read goes first, then the rest.
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	}
	plain := head
	if enc == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return io.NopCloser(bytes.NewReader(head))
		}
		plain, err = io.ReadAll(io.LimitReader(zr, errorBodyLimit+1))
		if err != nil || len(plain) > errorBodyLimit {
			return io.NopCloser(bytes.NewReader(head))
		}
		h.Del("Content-Encoding")
	}
	redacted := []byte(cl.Redact(string(plain)))
	h.Set("Content-Length", strconv.Itoa(len(redacted)))
	return io.NopCloser(bytes.NewReader(redacted))
}

// outgoing builds the request for the API from the caller's request.
func (s *Server) outgoing(r *http.Request) (*http.Request, error) {
	path := r.PathValue("path")
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
