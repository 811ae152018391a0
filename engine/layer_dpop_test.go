package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/dpop"
	"github.com/connspec/connspec/engine/store"
)

// dpopServer is a loopback authorization server and resource server that
// check every DPoP proof on their own (dpop.Verifier: signature, typ, alg,
// htm, htu, iat, replayed jti, ath, nonce) and bind each token to the
// proof key's thumbprint (cnf.jkt), which later proofs must match.
type dpopServer struct {
	t   *testing.T
	srv *httptest.Server
	as  dpop.Verifier
	rs  dpop.Verifier

	mu       sync.Mutex
	jkts     map[string]string // access and refresh token -> jkt
	expired  map[string]bool   // access tokens the RS treats as expired
	failures []string
	apiJKTs  map[string]bool // thumbprints of accepted API proofs
	asNonce  string
	rsNonce  string
	nonceN   int
	lastAPI  string // the last accepted API proof

	tokens         atomic.Int64
	asChallenges   atomic.Int64
	rsChallenges   atomic.Int64
	apiCalls       atomic.Int64
	tokenType      string // "" means DPoP
	rotateRSNonce  bool   // every API answer is a use_dpop_nonce with a new nonce
	grantTypesSeen sync.Map
}

func newDPoPServer(t *testing.T) *dpopServer {
	s := &dpopServer{t: t, jkts: map[string]string{}, expired: map[string]bool{}, apiJKTs: map[string]bool{}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// jkt is the thumbprint a token is bound to.
func (s *dpopServer) jkt(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jkts[token]
}

// apiKeys are the thumbprints of the accepted API proofs.
func (s *dpopServer) apiKeys() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.apiJKTs)
}

// set changes the server's behaviour between requests.
func (s *dpopServer) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *dpopServer) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func (s *dpopServer) check() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		s.t.Error("server: " + f)
	}
}

// newNonce makes a fresh nonce (the caller holds mu).
func (s *dpopServer) newNonce(prefix string) string {
	s.nonceN++
	return fmt.Sprintf("%s-nonce-%d", prefix, s.nonceN)
}

func (s *dpopServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	s.api(w, r)
}

// token is the token endpoint: a proof with the current nonce is required
// (400 use_dpop_nonce otherwise, the first time round); a refresh token is
// honoured only with a proof of the key it was bound to.
func (s *dpopServer) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	if s.asNonce == "" {
		s.asNonce = s.newNonce("as")
	}
	nonce := s.asNonce
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		s.fail("token request with Authorization %q", r.Header.Get("Authorization"))
	}
	v, err := s.as.VerifyRequest(r, dpop.Check{Nonce: nonce})
	if errors.Is(err, dpop.ErrUseNonce) {
		s.asChallenges.Add(1)
		w.Header().Set(dpop.HeaderNonce, nonce)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"use_dpop_nonce"}`))
		return
	}
	if err != nil {
		s.fail("token proof refused: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_dpop_proof"}`))
		return
	}
	r.ParseForm()
	gt := r.PostForm.Get("grant_type")
	s.grantTypesSeen.Store(gt, true)
	if gt == "refresh_token" {
		s.mu.Lock()
		bound := s.jkts[r.PostForm.Get("refresh_token")]
		s.mu.Unlock()
		if bound != v.JKT {
			s.fail("refresh with a proof of key %s, the refresh token is bound to %q", v.JKT, bound)
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
	}
	n := s.tokens.Add(1)
	at, rt := fmt.Sprintf("at-%d", n), fmt.Sprintf("rt-%d", n)
	s.mu.Lock()
	s.jkts[at], s.jkts[rt] = v.JKT, v.JKT
	s.mu.Unlock()
	s.mu.Lock()
	tt := s.tokenType
	s.mu.Unlock()
	if tt == "" {
		tt = "DPoP"
	}
	fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"token_type":%q,"expires_in":3600}`, at, rt, tt)
}

// api is the resource server: "Authorization: DPoP <token>" with a proof
// of the token's key, bound to the token (ath), with the current nonce.
func (s *dpopServer) api(w http.ResponseWriter, r *http.Request) {
	s.apiCalls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	if s.rsNonce == "" || s.rotateRSNonce {
		s.rsNonce = s.newNonce("rs")
	}
	nonce, jkt, expired := s.rsNonce, s.jkts[token], s.expired[token]
	s.mu.Unlock()
	if scheme != "DPoP" || jkt == "" {
		s.fail("API request with Authorization scheme %q and an unknown token", scheme)
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	v, err := s.rs.VerifyRequest(r, dpop.Check{AccessToken: token, JKT: jkt, Nonce: nonce})
	if errors.Is(err, dpop.ErrUseNonce) {
		s.rsChallenges.Add(1)
		w.Header().Set(dpop.HeaderNonce, nonce)
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err != nil {
		s.fail("API proof refused: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if expired {
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", error_description="expired"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/v1/echo" {
		// An API that quotes the request in its error.
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":%q}`, r.URL.String())
		return
	}
	s.mu.Lock()
	s.apiJKTs[v.JKT] = true
	s.lastAPI = r.Header.Get(dpop.HeaderDPoP)
	s.mu.Unlock()
	fmt.Fprintf(w, `{"ok":true,"token":%q}`, token)
}

// dpopConnector asks for DPoP; extra is added to getOAuthConfig, more to
// the auth block. makeApiClient sends the token as Bearer, as connectors
// usually do: the engine must send it as DPoP.
func dpopConnector(extra, more string) string {
	return `name: D
key: c
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: client-1
      clientSecret: secret-1
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
      dpop: true
` + extra + `  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
` + more
}

// dpopAuthorize runs the authorization code flow (the provider's consent
// page stood in for by a callback with a code).
func dpopAuthorize(t *testing.T, e *Engine, conn Connection) (map[string]any, error) {
	t.Helper()
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	return e.CompleteAuthorization(ctx, conn, url.Values{"code": {"code-1"}, "state": {req.State}}, redirectURI, req.State, req.Verifier)
}

func storedJKT(t *testing.T, creds map[string]any) string {
	t.Helper()
	raw, _ := creds[DPoPCredentialsKey].(string)
	k, err := dpop.ParseKey([]byte(raw))
	if err != nil {
		t.Fatalf("the credentials hold no DPoP key: %v", err)
	}
	return k.Thumbprint()
}

// TestDPoPCodeFlow: the code exchange carries a proof (after the token
// endpoint's use_dpop_nonce), the key is kept in the store, API requests go
// as "DPoP <token>" with a proof bound to the token (after the resource
// server's use_dpop_nonce), and a refresh keeps the key and its jkt.
func TestDPoPCodeFlow(t *testing.T) {
	for _, alg := range []string{"", "EdDSA", "RS256"} {
		t.Run("alg="+alg, func(t *testing.T) {
			ds := newDPoPServer(t)
			extra := ""
			if alg != "" {
				extra = "      dpopAlgorithm: " + alg + "\n"
			}
			st := store.NewMemory()
			e := newEngine(t, ds.srv, dpopConnector(extra, ""), WithStore(st))
			clock := newJWTClock()
			e.now = clock.now
			conn := Connection{ID: "d-1", Connector: "c"}
			creds, err := dpopAuthorize(t, e, conn)
			if err != nil {
				t.Fatal(err)
			}
			jkt := storedJKT(t, creds)
			if ds.asChallenges.Load() != 1 || ds.tokens.Load() != 1 {
				t.Errorf("%d nonce challenges and %d tokens at the token endpoint, want 1 and 1", ds.asChallenges.Load(), ds.tokens.Load())
			}
			if ds.jkt("at-1") != jkt {
				t.Errorf("the token is bound to %s, the stored key is %s", ds.jkt("at-1"), jkt)
			}
			cl := mustClient(t, e, conn)
			for range 3 {
				if got := get(t, cl, "/me"); got["ok"] != true {
					t.Fatalf("got %v", got)
				}
			}
			if ds.rsChallenges.Load() != 1 || ds.tokens.Load() != 1 {
				t.Errorf("%d RS nonce challenges and %d tokens, want 1 and 1 (a nonce challenge is no expiry)", ds.rsChallenges.Load(), ds.tokens.Load())
			}
			clock.add(2 * time.Hour)
			if got := get(t, cl, "/me"); got["token"] != "at-2" {
				t.Fatalf("after expiry got %v, want a call with at-2", got)
			}
			rec, _ := st.Get(context.Background(), "d-1")
			if got := storedJKT(t, rec.Credentials); got != jkt || ds.jkt("at-2") != jkt {
				t.Errorf("after the refresh the stored key is %s and at-2 is bound to %s, want both %s", got, ds.jkt("at-2"), jkt)
			}
			if keys := ds.apiKeys(); len(keys) != 1 || !keys[jkt] {
				t.Errorf("API proofs by keys %v, want only %s", ds.apiKeys(), jkt)
			}
			ds.check()
		})
	}
}

// TestDPoPReplayRefused: a proof the client sent cannot be sent again (the
// server's jti memory); the client's own requests each carry a new one.
func TestDPoPReplayRefused(t *testing.T) {
	ds := newDPoPServer(t)
	e := newEngine(t, ds.srv, dpopConnector("      grantType: client_credentials\n", ""))
	cl := mustClient(t, e, Connection{Connector: "c"})
	get(t, cl, "/me")
	get(t, cl, "/me")
	req, _ := http.NewRequest("GET", ds.srv.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "DPoP at-1")
	var last string
	ds.set(func() { last = ds.lastAPI })
	req.Header.Set(dpop.HeaderDPoP, last)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a replayed proof got %d, want 401", resp.StatusCode)
	}
	ds.mu.Lock()
	replayRefused := len(ds.failures) == 1 && strings.Contains(ds.failures[0], "jti")
	ds.failures = nil
	ds.mu.Unlock()
	if !replayRefused {
		t.Error("the server did not refuse the replayed proof for its jti")
	}
	ds.check()
}

// TestDPoPRenewalKeepsKey: whatever the connector's refresh mapping makes of
// the credentials (drops the key, replaces it), the key stays.
func TestDPoPRenewalKeepsKey(t *testing.T) {
	for name, mapping := range map[string]string{
		"drops":    "      access_token: {$var: tokenResponse.access_token}\n",
		"replaces": "      access_token: {$var: tokenResponse.access_token}\n      dpop_key: '{\"kty\":\"oct\"}'\n",
		"nulls":    "      access_token: {$var: tokenResponse.access_token}\n      dpop_key: null\n",
	} {
		t.Run(name, func(t *testing.T) {
			ds := newDPoPServer(t)
			more := "  getCredentialsFromRefreshTokenResponse:\n    mapping:\n" + mapping
			st := store.NewMemory()
			e := newEngine(t, ds.srv, dpopConnector("", more), WithStore(st))
			clock := newJWTClock()
			e.now = clock.now
			conn := Connection{ID: "d-1", Connector: "c"}
			creds, err := dpopAuthorize(t, e, conn)
			if err != nil {
				t.Fatal(err)
			}
			jkt := storedJKT(t, creds)
			cl := mustClient(t, e, conn)
			for range 2 {
				clock.add(2 * time.Hour)
				if got := get(t, cl, "/me"); got["ok"] != true {
					t.Fatalf("got %v", got)
				}
			}
			rec, _ := st.Get(context.Background(), "d-1")
			if got := storedJKT(t, rec.Credentials); got != jkt {
				t.Errorf("stored key %s after two refreshes, want %s", got, jkt)
			}
			if ds.tokens.Load() != 3 {
				t.Errorf("%d tokens, want 3", ds.tokens.Load())
			}
			ds.check()
		})
	}
}

// TestDPoPClientCredentials: the key is made before the first token
// request and kept; tokens are bound to it.
func TestDPoPClientCredentials(t *testing.T) {
	ds := newDPoPServer(t)
	st := store.NewMemory()
	e := newEngine(t, ds.srv, dpopConnector("      grantType: client_credentials\n", ""), WithStore(st))
	cl := mustClient(t, e, Connection{ID: "cc-1", Connector: "c"})
	if got := get(t, cl, "/me"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	rec, err := st.Get(context.Background(), "cc-1")
	if err != nil {
		t.Fatal(err)
	}
	if jkt := storedJKT(t, rec.Credentials); ds.jkt("at-1") != jkt {
		t.Errorf("token bound to %s, stored key %s", ds.jkt("at-1"), jkt)
	}
	if _, ok := ds.grantTypesSeen.Load("client_credentials"); !ok {
		t.Error("no client_credentials grant was asked for")
	}
	ds.check()
}

// TestDPoPBearerRefused: a token endpoint that ignores the proof and
// answers token_type Bearer gets its token refused, loudly, in the code
// exchange, the refresh and the client credentials grant; no API request
// goes out with an unbound token.
func TestDPoPBearerRefused(t *testing.T) {
	t.Run("code", func(t *testing.T) {
		ds := newDPoPServer(t)
		ds.set(func() { ds.tokenType = "Bearer" })
		e := newEngine(t, ds.srv, dpopConnector("", ""))
		_, err := dpopAuthorize(t, e, Connection{Connector: "c"})
		if err == nil || !strings.Contains(err.Error(), `token_type "Bearer": the token is not bound`) {
			t.Errorf("got %v, want the Bearer token refused", err)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		ds := newDPoPServer(t)
		e := newEngine(t, ds.srv, dpopConnector("", ""), WithStore(store.NewMemory()))
		clock := newJWTClock()
		e.now = clock.now
		conn := Connection{ID: "d-1", Connector: "c"}
		if _, err := dpopAuthorize(t, e, conn); err != nil {
			t.Fatal(err)
		}
		cl := mustClient(t, e, conn)
		ds.set(func() { ds.tokenType = "bearer" })
		clock.add(2 * time.Hour)
		before := ds.apiCalls.Load()
		if _, err := cl.Get(context.Background(), "/me"); err == nil || !strings.Contains(err.Error(), "is not bound to the connection's dpop key") {
			t.Errorf("got %v, want the Bearer token refused", err)
		}
		if ds.apiCalls.Load() != before {
			t.Error("an API request went out after the downgrade")
		}
	})
	t.Run("client_credentials", func(t *testing.T) {
		ds := newDPoPServer(t)
		ds.set(func() { ds.tokenType = "Bearer" })
		cl := mustClient(t, newEngine(t, ds.srv, dpopConnector("      grantType: client_credentials\n", "")), Connection{Connector: "c"})
		if _, err := cl.Get(context.Background(), "/me"); err == nil || !strings.Contains(err.Error(), "is not bound to the connection's dpop key") {
			t.Errorf("got %v, want the Bearer token refused", err)
		}
		if ds.apiCalls.Load() != 0 {
			t.Error("an API request went out with a Bearer token")
		}
	})
}

// TestDPoPNonceIsNoExpiry: a resource server that keeps asking for a new
// nonce gets a clear error and no token refresh; a DPoP invalid_token (a
// genuine expiry) is refreshed once.
func TestDPoPNonceIsNoExpiry(t *testing.T) {
	ds := newDPoPServer(t)
	e := newEngine(t, ds.srv, dpopConnector("      grantType: client_credentials\n", ""))
	cl := mustClient(t, e, Connection{Connector: "c"})
	get(t, cl, "/me")
	ds.set(func() { ds.rotateRSNonce = true })
	_, err := cl.Get(context.Background(), "/me")
	if err == nil || !strings.Contains(err.Error(), "use_dpop_nonce") {
		t.Errorf("got %v, want the nonce refusal", err)
	}
	if n := ds.tokens.Load(); n != 1 {
		t.Errorf("%d token requests, want 1: a nonce challenge is not an expired token", n)
	}
	ds.set(func() { ds.rotateRSNonce, ds.expired["at-1"] = false, true })
	if got := get(t, cl, "/me"); got["token"] != "at-2" {
		t.Errorf("after a genuine expiry got %v, want a call with at-2", got)
	}
	ds.check()
}

// TestDPoPStorm: 20 concurrent requests on an expired token across two
// engines sharing one SQLite store make exactly one token request, and
// every proof is signed by the one stored key.
func TestDPoPStorm(t *testing.T) {
	ds := newDPoPServer(t)
	stores := faultSQLiteStores(t, 2)
	clock := newJWTClock()
	conn := Connection{ID: "d-storm", Connector: "c"}
	var clients []*Client
	for _, s := range stores {
		e := newEngine(t, ds.srv, dpopConnector("      grantType: client_credentials\n", ""), WithStore(s))
		e.now = clock.now
		clients = append(clients, mustClient(t, e, conn))
	}
	get(t, clients[0], "/me")
	clock.add(2 * time.Hour)
	getConcurrently(t, clients, 20, "/me", "")
	if n := ds.tokens.Load(); n != 2 {
		t.Errorf("%d token requests for 20 concurrent calls on an expired token across two engines, want 1 after the first", n-1)
	}
	rec, err := stores[1].Get(context.Background(), "d-storm")
	if err != nil {
		t.Fatal(err)
	}
	jkt := storedJKT(t, rec.Credentials)
	if keys := ds.apiKeys(); len(keys) != 1 || !keys[jkt] || ds.jkt("at-2") != jkt {
		t.Errorf("proofs by %v, at-2 bound to %s, want the stored key %s only", ds.apiKeys(), ds.jkt("at-2"), jkt)
	}
	ds.check()
}

// TestDPoPBadStoredKey: stored credentials whose key is missing or does
// not parse are a clear error that asks for a new authorisation, never a
// new key; the key's text never shows.
func TestDPoPBadStoredKey(t *testing.T) {
	canary := "canary-dpop-d-0123456789abcdefghijklmnop"
	good, _ := dpop.GenerateKey("")
	goodJWK, _ := good.PrivateJWK()
	var m map[string]any
	json.Unmarshal(goodJWK, &m)
	m["d"] = canary
	badD, _ := json.Marshal(m)
	m["alg"], m["d"] = "HS256", canary
	badAlg, _ := json.Marshal(m)
	for name, val := range map[string]any{
		"missing":   nil,
		"empty":     "",
		"not JSON":  canary + "{",
		"bad d":     string(badD),
		"hmac alg":  string(badAlg),
		"an object": map[string]any{"kty": "EC", "d": canary},
		"public":    `{"kty":"EC","crv":"P-256","x":"` + canary + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ds := newDPoPServer(t)
			st := store.NewMemory()
			creds := map[string]any{"access_token": "at-canary-access-1234", "refresh_token": "rt-canary-refresh-1234", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)}
			if val != nil {
				creds[DPoPCredentialsKey] = val
			}
			if _, err := st.CompareAndSwap(context.Background(), "d-1", 0, creds); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			e := newEngine(t, ds.srv, dpopConnector("", ""), WithStore(st), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			_, err := e.Client(context.Background(), Connection{ID: "d-1", Connector: "c"})
			if err == nil || !errors.Is(err, ErrConnectionIsDefunct) || !strings.Contains(err.Error(), "authorise the connection again") {
				t.Fatalf("got %v, want a clear error asking for a new authorisation", err)
			}
			for _, secret := range []string{canary, "at-canary", "rt-canary"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a secret shows: %v / %s", err, logs.String())
				}
			}
			if ds.tokens.Load() != 0 || ds.apiCalls.Load() != 0 {
				t.Error("a request went out with a key that is not the connection's")
			}
		})
	}
}

// TestDPoPKeyNeverShown: the stored private key never shows in errors or
// logs, whatever the servers echo.
func TestDPoPKeyNeverShown(t *testing.T) {
	ds := newDPoPServer(t)
	st := store.NewMemory()
	var logs bytes.Buffer
	e := newEngine(t, ds.srv, dpopConnector("", ""), WithStore(st), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	conn := Connection{ID: "d-1", Connector: "c"}
	creds, err := dpopAuthorize(t, e, conn)
	if err != nil {
		t.Fatal(err)
	}
	var jwk dpop.JWK
	json.Unmarshal([]byte(creds[DPoPCredentialsKey].(string)), &jwk)
	cl := mustClient(t, e, conn)
	// An API that echoes the credentials it is told about in an error.
	_, err = cl.Do(context.Background(), "GET", "/echo?x="+url.QueryEscape(jwk.D), nil)
	if err == nil {
		t.Fatal("the echoing API's 500 is no error")
	}
	msgs := fmt.Sprint(err) + cl.Redact(jwk.D) + cl.Redact(creds[DPoPCredentialsKey].(string)) + logs.String()
	if jwk.D == "" || strings.Contains(msgs, jwk.D) {
		t.Errorf("the private key shows: %s", msgs)
	}
	if s := fmt.Sprintf("%v %+v", cl.state.Load().wire, cl.state.Load().wire); strings.Contains(s, jwk.D) {
		t.Errorf("the wire prints the private key: %s", s)
	}
}

// TestDPoPConfigRefused: dpop with methods that make their own token
// requests, and an unsupported dpopAlgorithm, are refused.
func TestDPoPConfigRefused(t *testing.T) {
	for name, c := range map[string]struct{ extra, more, want string }{
		"refreshCredentials": {"", "  refreshCredentials:\n    implementationType: javascript\n    code: |\n      export default () => ({access_token: 'x'})\n", "refreshCredentials"},
		"algorithm":          {"      dpopAlgorithm: {$var: connectorParameters.alg}\n", "", "dpopAlgorithm must be one of"},
	} {
		t.Run(name, func(t *testing.T) {
			ds := newDPoPServer(t)
			e := newEngine(t, ds.srv, dpopConnector(c.extra, c.more))
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectorParameters: map[string]any{"alg": "HS256"}, Credentials: map[string]any{"access_token": "a"}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}
