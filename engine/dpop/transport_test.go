package dpop

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// provider is a loopback authorization and resource server that checks
// every proof independently with a Verifier and demands its current nonce.
type provider struct {
	*httptest.Server
	v      Verifier
	token  string
	always bool // answer use_dpop_nonce with a new nonce every time
	stuck  bool // answer use_dpop_nonce with the same nonce every time

	mu       sync.Mutex
	nonce    int
	requests []seen
}

type seen struct {
	path, nonce, body, auth string
}

func newProvider(t *testing.T) *provider {
	p := &provider{token: "canary-dpop-access-token", nonce: 1}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *provider) currentNonce() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("nonce-%d", p.nonce)
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	check := Check{Nonce: p.currentNonce()}
	if r.URL.Path == "/resource" {
		check.AccessToken = strings.TrimPrefix(r.Header.Get("Authorization"), "DPoP ")
	}
	got, err := p.v.VerifyRequest(r, check)
	p.mu.Lock()
	s := seen{path: r.URL.Path, body: string(body), auth: r.Header.Get("Authorization")}
	if got != nil {
		s.nonce = got.Nonce
	}
	p.requests = append(p.requests, s)
	if p.always {
		p.nonce++
	}
	if p.always || p.stuck {
		err = &ProofError{Reason: "always", nonce: true}
	}
	nonce := fmt.Sprintf("nonce-%d", p.nonce)
	p.mu.Unlock()
	w.Header().Set(HeaderNonce, nonce)
	var pe *ProofError
	switch {
	case err == nil && r.URL.Path == "/resource":
		if check.AccessToken != p.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "resource:"+string(body))
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"DPoP","body":%q}`, p.token, body)
	case errors.As(err, &pe) && r.URL.Path == "/resource":
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="x", DPoP algs="ES256 EdDSA", error=%q, error_description="proof, please"`, pe.Code()))
		w.WriteHeader(http.StatusUnauthorized)
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, pe.Code())
	}
}

func (p *provider) seen() []seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]seen(nil), p.requests...)
}

func postForm(t *testing.T, c *http.Client, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A token endpoint's 400 use_dpop_nonce is answered once with the nonce it
// gave, replaying the same body; the nonce is then remembered.
func TestTransportTokenEndpointNonce(t *testing.T) {
	p := newProvider(t)
	c := &http.Client{Transport: &Transport{Key: testKey(t, ES256)}}
	resp, body := postForm(t, c, p.URL+"/token", strings.NewReader("grant_type=client_credentials"))
	if resp.StatusCode != 200 || !strings.Contains(body, `"body":"grant_type=client_credentials"`) {
		t.Fatalf("token request: %d %s", resp.StatusCode, body)
	}
	got := p.seen()
	if len(got) != 2 || got[0].nonce != "" || got[1].nonce != "nonce-1" || got[1].body != got[0].body {
		t.Fatalf("requests = %+v, want one without nonce and one replay with nonce-1", got)
	}
	if resp, _ := postForm(t, c, p.URL+"/token", strings.NewReader("grant_type=client_credentials")); resp.StatusCode != 200 || len(p.seen()) != 3 {
		t.Fatalf("second token request: %d after %d requests, want 200 at once", resp.StatusCode, len(p.seen()))
	}
}

// A resource server's 401 DPoP use_dpop_nonce challenge is answered once;
// the access token goes in "Authorization: DPoP" and is bound by ath.
func TestTransportResourceNonce(t *testing.T) {
	p := newProvider(t)
	tr := &Transport{Key: testKey(t, EdDSA), AccessToken: func(*http.Request) (string, error) { return p.token, nil }}
	c := &http.Client{Transport: tr}
	req, _ := http.NewRequest("GET", p.URL+"/resource?page=2", nil)
	req.Header.Set("Authorization", "Bearer should-be-replaced")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := p.seen()
	if resp.StatusCode != 200 || len(got) != 2 || got[1].auth != "DPoP "+p.token {
		t.Fatalf("status %d, requests %+v", resp.StatusCode, got)
	}
	if req.Header.Get("Authorization") != "Bearer should-be-replaced" || req.Header.Get(HeaderDPoP) != "" {
		t.Fatal("the transport modified the caller's request")
	}
	// A POST with a replayable body keeps its body through the retry.
	p.mu.Lock()
	p.nonce++
	p.mu.Unlock()
	resp, body := postForm(t, c, p.URL+"/resource", strings.NewReader("payload"))
	if resp.StatusCode != 200 || body != "resource:payload" {
		t.Fatalf("POST after nonce change: %d %q", resp.StatusCode, body)
	}
}

// A body that cannot be sent again is never retried: the caller gets the
// server's answer unchanged, and the next request carries the new nonce.
func TestTransportDoesNotReplayOneShotBody(t *testing.T) {
	p := newProvider(t)
	c := &http.Client{Transport: &Transport{Key: testKey(t, ES256)}}
	oneShot := io.NopCloser(strings.NewReader("grant_type=once")) // no GetBody
	resp, body := postForm(t, c, p.URL+"/token", oneShot)
	if resp.StatusCode != 400 || body != `{"error":"use_dpop_nonce"}` || len(p.seen()) != 1 {
		t.Fatalf("one-shot body: %d %q after %d requests; want the 400 as sent, 1 request", resp.StatusCode, body, len(p.seen()))
	}
	resp, _ = postForm(t, c, p.URL+"/token", io.NopCloser(strings.NewReader("grant_type=once")))
	if resp.StatusCode != 200 || len(p.seen()) != 2 {
		t.Fatalf("next request: %d after %d requests; want 200 with the remembered nonce", resp.StatusCode, len(p.seen()))
	}
}

// A server that asks for a new nonce every time gets exactly one retry.
func TestTransportRetriesOnce(t *testing.T) {
	for _, path := range []string{"/token", "/resource"} {
		p := newProvider(t)
		p.always = true
		tr := &Transport{Key: testKey(t, ES256)}
		if path == "/resource" {
			tr.AccessToken = func(*http.Request) (string, error) { return p.token, nil }
		}
		resp, _ := postForm(t, &http.Client{Transport: tr}, p.URL+path, strings.NewReader("x"))
		if resp.StatusCode == 200 || len(p.seen()) != 2 {
			t.Fatalf("%s: %d after %d requests, want the error after exactly 2", path, resp.StatusCode, len(p.seen()))
		}
	}
}

// A server that refuses the very nonce it gave is not asked again with it.
func TestTransportNoRetryWithTheSameNonce(t *testing.T) {
	p := newProvider(t)
	p.stuck = true
	c := &http.Client{Transport: &Transport{Key: testKey(t, ES256)}}
	postForm(t, c, p.URL+"/token", strings.NewReader("x"))
	if n := len(p.seen()); n != 2 {
		t.Fatalf("first request: %d requests, want 2", n)
	}
	resp, _ := postForm(t, c, p.URL+"/token", strings.NewReader("x"))
	if n := len(p.seen()); n != 3 || resp.StatusCode != 400 {
		t.Fatalf("second request: %d after %d requests, want the 400 after 1 more", resp.StatusCode, n)
	}
}

// Nonces are kept per origin: one server's nonce never goes to another.
func TestTransportNoncePerOrigin(t *testing.T) {
	a, b := newProvider(t), newProvider(t)
	b.mu.Lock()
	b.nonce = 7
	b.mu.Unlock()
	nonces := &Nonces{}
	c := &http.Client{Transport: &Transport{Key: testKey(t, ES256), Nonces: nonces}}
	postForm(t, c, a.URL+"/token", strings.NewReader("x"))
	postForm(t, c, b.URL+"/token", strings.NewReader("x"))
	if got := b.seen(); len(got) != 2 || got[0].nonce != "" || got[1].nonce != "nonce-7" {
		t.Fatalf("second origin saw %+v; want no nonce, then its own", got)
	}
	origin, _ := HTU(a.URL)
	if nonces.Get(strings.TrimSuffix(origin, "/")) != "nonce-1" {
		t.Fatalf("shared Nonces does not hold the first origin's nonce")
	}
}

// Responses that are not a use_dpop_nonce challenge pass through unchanged,
// and nonce values outside RFC 9449's syntax are ignored.
func TestTransportPassesOtherErrorsThrough(t *testing.T) {
	var calls int
	var mu sync.Mutex
	answers := map[string]func(http.ResponseWriter){
		"/invalid-grant": func(w http.ResponseWriter) {
			w.Header().Set(HeaderNonce, "n1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","pad":"`+strings.Repeat("p", 100<<10)+`"}`)
		},
		"/html": func(w http.ResponseWriter) {
			w.Header().Set(HeaderNonce, "n1")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `<p>{"error":"use_dpop_nonce"}</p>`)
		},
		"/bad-nonce": func(w http.ResponseWriter) {
			w.Header().Set(HeaderNonce, `a "quoted" nonce`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"use_dpop_nonce"}`)
		},
		"/bearer-401": func(w http.ResponseWriter) {
			w.Header().Set(HeaderNonce, "n1")
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="DPoP error=\"use_dpop_nonce\""`)
			w.WriteHeader(401)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		answers[r.URL.Path](w)
	}))
	defer srv.Close()
	c := &http.Client{Transport: &Transport{Key: testKey(t, ES256)}}
	for path, answer := range answers {
		calls = 0
		want := httptest.NewRecorder()
		answer(want)
		resp, body := postForm(t, c, srv.URL+path, strings.NewReader("x"))
		if resp.StatusCode != want.Code || body != want.Body.String() || calls != 1 {
			t.Errorf("%s: %d (%d bytes) after %d calls; want the answer unchanged after 1", path, resp.StatusCode, len(body), calls)
		}
	}
}

func TestDPoPChallengeError(t *testing.T) {
	cases := map[string]string{
		`DPoP error="use_dpop_nonce"`:                                           "use_dpop_nonce",
		`dpop algs="ES256 PS256", error="use_dpop_nonce"`:                       "use_dpop_nonce",
		`Bearer realm="a, b", DPoP error=use_dpop_nonce, error_description="x"`: "use_dpop_nonce",
		`Bearer realm="x, DPoP error=\"use_dpop_nonce\""`:                       "",
		`Bearer error="use_dpop_nonce"`:                                         "",
		`DPoP error="invalid_dpop_proof"`:                                       "invalid_dpop_proof",
		``:                                                                      "",
	}
	for in, want := range cases {
		if got := dpopChallengeError(in); got != want {
			t.Errorf("dpopChallengeError(%q) = %q, want %q", in, got, want)
		}
	}
}

// Errors of the transport never carry the access token.
func TestTransportErrorsHideToken(t *testing.T) {
	tr := &Transport{Key: testKey(t, ES256), AccessToken: func(*http.Request) (string, error) { return "canary-token\r\nX: y", nil }}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/x", nil)
	_, err := tr.RoundTrip(req)
	if err == nil || strings.Contains(err.Error(), "canary-token") {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []*Transport{{}, {Key: testKey(t, ES256), AccessToken: func(*http.Request) (string, error) { return "", nil }}} {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:1/x", nil)
		if _, err := bad.RoundTrip(req); err == nil {
			t.Errorf("transport %+v sent a request", bad)
		}
	}
}
