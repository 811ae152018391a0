package dpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Header names of RFC 9449.
const (
	HeaderDPoP  = "DPoP"
	HeaderNonce = "DPoP-Nonce"
)

// Bounds of the nonce handling.
const (
	maxNonceLen     = 1024     // longer DPoP-Nonce values are ignored
	maxNonceOrigins = 1024     // origins remembered per Nonces
	maxErrorBody    = 64 << 10 // bytes of a 400 body read to look for use_dpop_nonce
)

// Nonces remembers the last DPoP-Nonce each origin (scheme://host:port)
// sent. One Nonces may be shared by the transports of one connection; it is
// safe for concurrent use.
type Nonces struct {
	mu sync.Mutex
	m  map[string]string
}

// Get returns the nonce last seen from an origin, written as the scheme,
// host and port part of [HTU]'s result ("https://as.example.com").
func (n *Nonces) Get(origin string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m[origin]
}

// Set remembers a nonce for an origin; a value that is not a valid nonce
// (empty, too long, outside the visible ASCII characters of RFC 9449
// section 8.1) is ignored.
func (n *Nonces) Set(origin, nonce string) {
	if !validNonce(nonce) {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string]string{}
	}
	if _, ok := n.m[origin]; !ok && len(n.m) >= maxNonceOrigins {
		for k := range n.m { // forget one arbitrary origin; it will send a new nonce
			delete(n.m, k)
			break
		}
	}
	n.m[origin] = nonce
}

// validNonce checks the NQCHAR syntax (%x21 / %x23-5B / %x5D-7E).
func validNonce(s string) bool {
	if s == "" || len(s) > maxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Transport is an [http.RoundTripper] that sends every request with a DPoP
// proof signed by Key, remembers the servers' nonces, and when a server
// answers "use_dpop_nonce" (HTTP 400 from a token endpoint, 401 with a
// DPoP WWW-Authenticate challenge from a resource server) retries once with
// the nonce it gave, if the request body can be sent again.
type Transport struct {
	// Key signs the proofs. Required.
	Key Key
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// AccessToken, when set, makes this a resource-server transport: it
	// returns the DPoP-bound access token for a request, which is sent as
	// "Authorization: DPoP <token>" (replacing any Authorization header)
	// and bound to the proof by "ath". Leave it nil for token requests.
	AccessToken func(*http.Request) (string, error)
	// Nonces is the nonce memory; nil means one of the transport's own.
	Nonces *Nonces
	// Now is the clock for proofs' iat; nil means time.Now.
	Now func() time.Time

	once sync.Once
	own  *Nonces
}

func (t *Transport) nonces() *Nonces {
	if t.Nonces != nil {
		return t.Nonces
	}
	t.once.Do(func() { t.own = &Nonces{} })
	return t.own
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip sends the request with a proof, retrying once on use_dpop_nonce.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	origin, token, err := t.prepare(req)
	if err != nil {
		closeBody(req.Body) // a RoundTripper closes the body, even on error
		return nil, err
	}
	sent := t.nonces().Get(origin)
	resp, err := t.send(req, req.Body, token, sent)
	if err != nil {
		return nil, err
	}
	fresh := resp.Header.Get(HeaderNonce)
	t.nonces().Set(origin, fresh)
	if !validNonce(fresh) || fresh == sent {
		return resp, nil
	}
	resp, challenged := askedForNonce(resp)
	if !challenged {
		return resp, nil
	}
	body, replayable := replayBody(req)
	if !replayable {
		// The server's answer stands; the nonce is remembered for the next request.
		return resp, nil
	}
	b, err := body()
	if err != nil {
		return resp, nil
	}
	drainClose(resp.Body)
	resp, err = t.send(req, b, token, fresh)
	if err != nil {
		return nil, err
	}
	t.nonces().Set(origin, resp.Header.Get(HeaderNonce))
	return resp, nil
}

// prepare checks the transport and the request, and returns the request's
// origin and access token.
func (t *Transport) prepare(req *http.Request) (origin, token string, err error) {
	if !t.Key.valid() {
		return "", "", errZeroKey
	}
	htu, err := htuOf(req.URL)
	if err != nil {
		return "", "", err
	}
	if t.AccessToken != nil {
		if token, err = t.AccessToken(req); err != nil {
			return "", "", fmt.Errorf("dpop: access token: %w", err)
		}
		if token == "" {
			return "", "", errors.New("dpop: no access token for a DPoP resource request")
		}
	}
	return originOf(htu), token, nil
}

// send clones req with a fresh proof (and the access token) and sends it;
// the base transport owns body from here on.
func (t *Transport) send(req *http.Request, body io.ReadCloser, token, nonce string) (*http.Response, error) {
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	proof, err := t.Key.Proof(req.Method, req.URL.String(), ProofOptions{AccessToken: token, Nonce: nonce, Now: now})
	if err != nil {
		closeBody(body)
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body = body
	out.Header.Set(HeaderDPoP, proof)
	if token != "" {
		out.Header.Set("Authorization", "DPoP "+token)
	}
	return t.base().RoundTrip(out)
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}

// replayBody reports whether the request's body can be sent again and
// returns how to get a fresh copy.
func replayBody(req *http.Request) (func() (io.ReadCloser, error), bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return func() (io.ReadCloser, error) { return req.Body, nil }, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	return req.GetBody, true
}

// askedForNonce reports whether resp is a use_dpop_nonce challenge. For a
// 400 it reads (at most maxErrorBody of) the body and gives back a response
// whose body reads the same bytes as before.
func askedForNonce(resp *http.Response) (*http.Response, bool) {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		for _, v := range resp.Header.Values("WWW-Authenticate") {
			if dpopChallengeError(v) == CodeUseNonce {
				return resp, true
			}
		}
	case http.StatusBadRequest:
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return resp, false
		}
		head, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		if err != nil {
			return resp, false
		}
		var e struct {
			Error string `json:"error"`
		}
		return resp, json.Unmarshal(head, &e) == nil && e.Error == CodeUseNonce
	}
	return resp, false
}

// dpopChallengeError returns the error parameter of a DPoP challenge in a
// WWW-Authenticate value, "" when there is none.
func dpopChallengeError(v string) string {
	for _, ch := range splitChallenges(v) {
		scheme, params, _ := strings.Cut(strings.TrimSpace(ch), " ")
		if !strings.EqualFold(scheme, "DPoP") {
			continue
		}
		for _, p := range splitOutsideQuotes(params) {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "error") {
				return strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return ""
}

// splitChallenges splits a WWW-Authenticate value into challenges: items
// are separated by commas outside quoted strings, and an item whose first
// word is not a parameter (no "=") starts a new challenge.
func splitChallenges(v string) []string {
	var out []string
	for _, item := range splitOutsideQuotes(v) {
		t := strings.TrimSpace(item)
		first, _, _ := strings.Cut(t, " ")
		if len(out) == 0 || t != "" && !strings.Contains(first, "=") {
			out = append(out, t)
			continue
		}
		out[len(out)-1] += "," + t
	}
	return out
}

// splitOutsideQuotes splits s at commas that are not inside a quoted string.
func splitOutsideQuotes(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

type readCloser struct {
	io.Reader
	io.Closer
}

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxErrorBody))
	_ = body.Close()
}

// originOf returns scheme://host[:port] of a normalised htu.
func originOf(htu string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(htu, "https://"), "http://")
	host, _, _ := strings.Cut(rest, "/")
	return htu[:len(htu)-len(rest)] + host
}

// UseNonceChallenge reports whether a resource server's response headers
// carry a DPoP challenge with error="use_dpop_nonce": what a 401 means
// when the server wants a (new) nonce rather than a new access token.
func UseNonceChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		if dpopChallengeError(v) == CodeUseNonce {
			return true
		}
	}
	return false
}
