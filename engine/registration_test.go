package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// dcrServer is an authorization server written from RFC 8414 (metadata),
// RFC 7591 (registration endpoint), RFC 7592 (read and delete a client) and
// RFC 6749 (authorize and token endpoints): the token endpoint
// authenticates clients by the method they registered, and the authorize
// endpoint takes only a registered redirect URI (a loopback IP's port aside,
// RFC 8252 section 7.3).
type dcrServer struct {
	*httptest.Server
	registrations atomic.Int32
	reads         atomic.Int32
	tokenRequests atomic.Int32

	mu      sync.Mutex
	clients map[string]*dcrClient
	codes   map[string]dcrCode
	tokens  map[string]string // access or refresh token -> client_id
	n       int
	clientN int
	// behaviour
	methods      []string // token_endpoint_auth_methods_supported
	noRFC7592    bool
	noEndpoint   bool
	secretTTL    time.Duration // client_secret_expires_at from now; 0: never
	regEndpoint  string        // overrides the registration endpoint in the metadata
	initialToken string        // required as Bearer by the registration endpoint
	answer       func(w http.ResponseWriter, req map[string]any) bool
	tokenExpires int
	now          func() time.Time
}

type dcrClient struct {
	id, secret, method, rat string
	redirects               []string
	grants                  []any
	expiresAt               int64
}

type dcrCode struct{ client, redirect, challenge string }

// dcrSecretPrefix starts every client secret and registration access token
// the server issues: canaries.
const dcrSecretPrefix = "CANARY-dcr-"

func newDCRServer(t *testing.T) *dcrServer {
	s := &dcrServer{clients: map[string]*dcrClient{}, codes: map[string]dcrCode{}, tokens: map[string]string{},
		methods: []string{"client_secret_basic", "client_secret_post", "none"}, tokenExpires: 3600, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("POST /register", s.register)
	mux.HandleFunc("GET /register/{id}", s.read)
	mux.HandleFunc("DELETE /register/{id}", s.delete)
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /api/me", s.me)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *dcrServer) set(f func(s *dcrServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *dcrServer) metadata(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	md := map[string]any{
		"issuer":                                s.URL,
		"authorization_endpoint":                s.URL + "/authorize",
		"token_endpoint":                        s.URL + "/token",
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": s.methods,
	}
	if !s.noEndpoint {
		md["registration_endpoint"] = s.URL + "/register"
	}
	if s.regEndpoint != "" {
		md["registration_endpoint"] = s.regEndpoint
	}
	json.NewEncoder(w).Encode(md)
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// register is RFC 7591 section 3.
func (s *dcrServer) register(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeJSONStatus(w, 400, map[string]string{"error": "invalid_client_metadata", "error_description": "not JSON"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initialToken != "" && r.Header.Get("Authorization") != "Bearer "+s.initialToken {
		writeJSONStatus(w, 401, map[string]string{"error": "invalid_token", "error_description": "got " + r.Header.Get("Authorization")})
		return
	}
	if s.answer != nil && s.answer(w, req) {
		return
	}
	s.registrations.Add(1)
	grants, _ := req["grant_types"].([]any)
	c := &dcrClient{grants: grants}
	c.method, _ = req["token_endpoint_auth_method"].(string)
	if c.method == "" {
		c.method = "client_secret_basic"
	}
	redirects, _ := req["redirect_uris"].([]any)
	for _, v := range redirects {
		u, err := url.Parse(v.(string))
		if err != nil || u.Fragment != "" {
			writeJSONStatus(w, 400, map[string]string{"error": "invalid_redirect_uri"})
			return
		}
		c.redirects = append(c.redirects, v.(string))
	}
	if len(c.redirects) == 0 && hasAny(grants, "authorization_code") {
		writeJSONStatus(w, 400, map[string]string{"error": "invalid_redirect_uri", "error_description": "authorization_code needs redirect_uris"})
		return
	}
	s.clientN++
	c.id = fmt.Sprintf("dcr-client-%d", s.clientN)
	if c.method != "none" {
		c.secret = fmt.Sprintf("%ssecret-%d", dcrSecretPrefix, s.clientN)
	}
	c.rat = fmt.Sprintf("%srat-%d", dcrSecretPrefix, s.clientN)
	if s.secretTTL > 0 {
		c.expiresAt = s.now().Add(s.secretTTL).Unix()
	}
	s.clients[c.id] = c
	writeJSONStatus(w, http.StatusCreated, s.info(c))
}

func (s *dcrServer) info(c *dcrClient) map[string]any {
	out := map[string]any{
		"client_id": c.id, "client_id_issued_at": s.now().Unix(), "redirect_uris": c.redirects,
		"grant_types": c.grants, "token_endpoint_auth_method": c.method, "client_name": "connspec",
	}
	if c.secret != "" {
		out["client_secret"] = c.secret
		out["client_secret_expires_at"] = c.expiresAt
	}
	if !s.noRFC7592 {
		out["registration_client_uri"] = s.URL + "/register/" + c.id
		out["registration_access_token"] = c.rat
	}
	return out
}

// clientOf authenticates an RFC 7592 request.
func (s *dcrServer) clientOf(r *http.Request) (*dcrClient, int) {
	c := s.clients[r.PathValue("id")]
	if c == nil {
		return nil, http.StatusUnauthorized // RFC 7592 section 2.1: not 404, to not reveal it
	}
	if r.Header.Get("Authorization") != "Bearer "+c.rat {
		return nil, http.StatusUnauthorized
	}
	return c, 0
}

func (s *dcrServer) read(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads.Add(1)
	c, status := s.clientOf(r)
	if c == nil {
		w.WriteHeader(status)
		return
	}
	writeJSONStatus(w, 200, s.info(c))
}

func (s *dcrServer) delete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, status := s.clientOf(r)
	if c == nil {
		w.WriteHeader(status)
		return
	}
	s.forgetLocked(c.id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *dcrServer) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked(id)
}

func (s *dcrServer) forgetLocked(id string) {
	delete(s.clients, id)
	for t, c := range s.tokens {
		if c == id {
			delete(s.tokens, t)
		}
	}
}

// rotate gives a client a new secret, as an RFC 7592 read then shows.
func (s *dcrServer) rotate(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	c.secret += "-rotated"
	if s.secretTTL > 0 {
		c.expiresAt = s.now().Add(s.secretTTL).Unix()
	}
}

func sameRedirect(registered []string, got string) bool {
	for _, r := range registered {
		if r == got || normalLoopback(r) == normalLoopback(got) {
			return true
		}
	}
	return false
}

// normalLoopback drops a loopback IP's port (RFC 8252 section 7.3).
func normalLoopback(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" {
		return s
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
		u.Host = u.Hostname()
	}
	return u.String()
}

func (s *dcrServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[q.Get("client_id")]
	if c == nil || !sameRedirect(c.redirects, q.Get("redirect_uri")) || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	s.n++
	code := fmt.Sprintf("code-%d", s.n)
	s.codes[code] = dcrCode{client: c.id, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
}

// authenticate checks the client by the method it registered.
func (s *dcrServer) authenticate(r *http.Request) *dcrClient {
	user, pass, basic := r.BasicAuth()
	id := r.PostForm.Get("client_id")
	if basic {
		id, _ = url.QueryUnescape(user)
		pass, _ = url.QueryUnescape(pass)
	}
	c := s.clients[id]
	if c == nil || c.expiresAt > 0 && !s.now().Before(time.Unix(c.expiresAt, 0)) {
		return nil
	}
	switch c.method {
	case "client_secret_basic":
		if !basic || pass != c.secret || r.PostForm.Has("client_secret") {
			return nil
		}
	case "client_secret_post":
		if basic || r.PostForm.Get("client_secret") != c.secret {
			return nil
		}
	case "none":
		if basic || r.PostForm.Has("client_secret") {
			return nil
		}
	}
	return c
}

func (s *dcrServer) token(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.authenticate(r)
	if c == nil {
		writeJSONStatus(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	fail := func(code string) { writeJSONStatus(w, 400, map[string]string{"error": code}) }
	switch g := r.PostForm.Get("grant_type"); g {
	case "authorization_code":
		code, ok := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || code.client != c.id || code.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
			fail("invalid_grant")
			return
		}
	case "refresh_token":
		if s.tokens[r.PostForm.Get("refresh_token")] != c.id {
			fail("invalid_grant")
			return
		}
	case "client_credentials":
		if !hasAny(c.grants, "client_credentials") {
			fail("unauthorized_client")
			return
		}
	default:
		fail("unsupported_grant_type")
		return
	}
	s.n++
	at, rt := fmt.Sprintf("at-%d", s.n), fmt.Sprintf("rt-%d", s.n)
	s.tokens[at], s.tokens[rt] = c.id, c.id
	writeJSONStatus(w, 200, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": s.tokenExpires})
}

func (s *dcrServer) me(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		w.WriteHeader(401)
		return
	}
	writeJSONStatus(w, 200, map[string]any{"client": c})
}

func hasAny(l []any, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// dcrConnector gives getOAuthConfig only the issuer (extra adds lines).
func dcrConnector(s *dcrServer, extra string) string {
	return strings.NewReplacer("{{ISSUER}}", s.URL, "{{EXTRA}}", extra).Replace(`name: C
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      issuer: "{{ISSUER}}"
{{EXTRA}}
  makeApiClient:
    mapping:
      baseUri: {{ISSUER}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`)
}

// dcrFlow runs the authorization code flow with redirect against s.
func dcrFlow(e *Engine, s *dcrServer, conn Connection, redirect string) (map[string]any, error) {
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirect)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(req.URL)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		return nil, fmt.Errorf("authorize answered %s", resp.Status)
	}
	return e.CompleteAuthorization(ctx, conn, loc.Query(), redirect, req.State, req.Verifier)
}

func mustDCRFlow(t *testing.T, e *Engine, s *dcrServer, conn Connection, redirect string) map[string]any {
	t.Helper()
	creds, err := dcrFlow(e, s, conn, redirect)
	if err != nil {
		t.Fatalf("flow with %s: %v", redirect, err)
	}
	return creds
}

// apiClientID is the client the API says the connection's token was
// issued to.
func apiClientID(t *testing.T, e *Engine, conn Connection) string {
	t.Helper()
	out, err := mustClient(t, e, conn).Get(context.Background(), "/api/me")
	if err != nil {
		t.Fatalf("GET /api/me: %v", err)
	}
	s, _ := out.(map[string]any)["client"].(string)
	return s
}

// storedRegistrations counts the registration records in a memory store.
func registrationRecord(t *testing.T, st store.Store, creds map[string]any) store.Record {
	t.Helper()
	ref, _ := creds[RegistrationCredentialsKey].(map[string]any)
	id, _ := ref["id"].(string)
	rec, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("registration record %q: %v", id, err)
	}
	return rec
}

func TestDCRRegistersOncePerServer(t *testing.T) {
	s := newDCRServer(t)
	st := store.NewMemory()
	e := newEngine(t, nil, dcrConnector(s, "      scopes: [read]"), WithStore(st))
	a := Connection{ID: "conn-a", Connector: "c"}
	b := Connection{ID: "conn-b", Connector: "c"}
	// Three flows, each on its own loopback port (connspec connect).
	credsA := mustDCRFlow(t, e, s, a, "http://127.0.0.1:40001/callback")
	mustDCRFlow(t, e, s, b, "http://127.0.0.1:40002/callback")
	mustDCRFlow(t, e, s, a, "http://127.0.0.1:40003/callback")
	if n := s.registrations.Load(); n != 1 {
		t.Fatalf("%d registrations, want 1 per server", n)
	}
	if got := apiClientID(t, e, Connection{ID: "conn-b", Connector: "c"}); got != "dcr-client-1" {
		t.Errorf("API saw client %q", got)
	}
	rec := registrationRecord(t, st, credsA)
	if rec.Credentials["client_secret"] != dcrSecretPrefix+"secret-1" || rec.Credentials["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("stored registration: %v", rec.Credentials)
	}
	if rec.Credentials["metadata"].(map[string]any)["scope"] != "read" {
		t.Errorf("registered metadata: %v", rec.Credentials["metadata"])
	}
	if strings.Contains(fmt.Sprint(credsA), dcrSecretPrefix) {
		t.Errorf("connection credentials hold the client's secrets: %v", credsA)
	}
	// Another redirect (not a loopback IP) is another registration.
	mustDCRFlow(t, e, s, b, "https://app.example.com/callback")
	if n := s.registrations.Load(); n != 2 {
		t.Errorf("%d registrations after a second redirect URI, want 2", n)
	}
	// A connector asking for other scopes (on the same store) gets its own
	// client; asking again reuses it.
	e2 := newEngine(t, nil, dcrConnector(s, "      scopes: [read, write]"), WithStore(st))
	mustDCRFlow(t, e2, s, Connection{Connector: "c"}, "http://127.0.0.1:40004/callback")
	mustDCRFlow(t, e2, s, Connection{Connector: "c"}, "http://127.0.0.1:40005/callback")
	mustDCRFlow(t, e, s, Connection{Connector: "c"}, "http://127.0.0.1:40006/callback")
	if n := s.registrations.Load(); n != 3 {
		t.Errorf("%d registrations after another connector's scopes, want 3", n)
	}
}

func TestDCRRefreshUsesRegisteredClient(t *testing.T) {
	s := newDCRServer(t)
	st := store.NewMemory()
	e := newEngine(t, nil, dcrConnector(s, ""), WithStore(st))
	clock := withClock(e)
	conn := Connection{ID: "conn-a", Connector: "c"}
	creds := mustDCRFlow(t, e, s, conn, "http://127.0.0.1:40001/callback")
	clock.Advance(2 * time.Hour)
	before := s.tokenRequests.Load()
	if got := apiClientID(t, e, conn); got != "dcr-client-1" {
		t.Fatalf("API saw client %q", got)
	}
	if s.tokenRequests.Load() == before {
		t.Fatal("no refresh happened")
	}
	rec, _ := st.Get(context.Background(), "conn-a")
	if rec.Credentials["access_token"] == creds["access_token"] {
		t.Fatal("credentials were not renewed")
	}
	if fmt.Sprint(rec.Credentials[RegistrationCredentialsKey]) != fmt.Sprint(creds[RegistrationCredentialsKey]) {
		t.Errorf("renewal lost the registration: %v", rec.Credentials)
	}
}

func TestDCRClientAuthMethodFromMetadataAndConnector(t *testing.T) {
	for _, tc := range []struct {
		methods []string
		extra   string
		want    string
	}{
		{[]string{"client_secret_post", "client_secret_basic"}, "", "client_secret_basic"},
		{[]string{"none", "client_secret_post"}, "", "client_secret_post"},
		{[]string{"none"}, "", "none"},
		{[]string{"client_secret_post", "client_secret_basic"}, "      clientAuthLocation: body", "client_secret_post"},
	} {
		t.Run(tc.want+tc.extra, func(t *testing.T) {
			s := newDCRServer(t)
			s.set(func(s *dcrServer) { s.methods = tc.methods })
			st := store.NewMemory()
			e := newEngine(t, nil, dcrConnector(s, tc.extra), WithStore(st))
			creds := mustDCRFlow(t, e, s, Connection{Connector: "c"}, redirectURI)
			if got := registrationRecord(t, st, creds).Credentials["token_endpoint_auth_method"]; got != tc.want {
				t.Errorf("registered %v, want %s", got, tc.want)
			}
		})
	}
	s := newDCRServer(t)
	s.set(func(s *dcrServer) { s.methods = []string{"client_secret_post"} })
	e := newEngine(t, nil, dcrConnector(s, "      clientAuthLocation: headers"))
	if _, err := dcrFlow(e, s, Connection{Connector: "c"}, redirectURI); err == nil || !strings.Contains(err.Error(), "token_endpoint_auth_methods_supported") {
		t.Errorf("headers against a post-only server: %v", err)
	}
}

func TestDCRSharedSQLiteStoreAndConcurrentFlows(t *testing.T) {
	s := newDCRServer(t)
	cipher, err := store.NewCipher(make([]byte, store.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.db")
	var engines []*Engine
	for range 2 {
		st, err := store.OpenSQLite(path, cipher)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		engines = append(engines, newEngine(t, nil, dcrConnector(s, ""), WithStore(st)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			conn := Connection{ID: fmt.Sprint("conn-", i), Connector: "c"}
			if _, err := dcrFlow(engines[i%2], s, conn, fmt.Sprintf("http://127.0.0.1:%d/cb", 41000+i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.registrations.Load(); n != 1 {
		t.Errorf("%d registrations by 2 engines on one store and 20 flows, want 1", n)
	}
	// The record is sealed like credentials: not in the file in clear.
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(dcrSecretPrefix)) {
		t.Error("the registered client secret is in the SQLite file in clear")
	}
}

func TestDCRServerForgetsClient(t *testing.T) {
	for _, rfc7592 := range []bool{true, false} {
		t.Run(fmt.Sprint("rfc7592=", rfc7592), func(t *testing.T) {
			s := newDCRServer(t)
			s.set(func(s *dcrServer) { s.noRFC7592 = !rfc7592 })
			st := store.NewMemory()
			e := newEngine(t, nil, dcrConnector(s, ""), WithStore(st))
			clock := withClock(e)
			conn := Connection{ID: "conn-a", Connector: "c"}
			creds := mustDCRFlow(t, e, s, conn, "http://127.0.0.1:40001/cb")
			if rfc7592 {
				// The client is deleted the RFC 7592 way (section 2.3), with
				// the registration access token the engine keeps.
				rec := registrationRecord(t, st, creds)
				req, _ := http.NewRequest(http.MethodDelete, rec.Credentials["registration_client_uri"].(string), nil)
				req.Header.Set("Authorization", "Bearer "+rec.Credentials["registration_access_token"].(string))
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusNoContent {
					t.Fatalf("RFC 7592 delete: %v %v", resp, err)
				}
				resp.Body.Close()
			} else {
				s.forget("dcr-client-1")
			}
			clock.Advance(2 * time.Hour)
			// The refresh: the token endpoint answers invalid_client.
			_, err := mustClient(t, e, conn).Get(context.Background(), "/api/me")
			var ce *ConnectionError
			if !errors.As(err, &ce) || ce.Key != KeyConnectionIsDefunct || !strings.Contains(err.Error(), "invalid_client") {
				t.Fatalf("refresh with a forgotten client: %v", err)
			}
			if n := s.registrations.Load(); n != 2 {
				t.Errorf("%d registrations after the server forgot the client, want 2", n)
			}
			if rfc7592 && s.reads.Load() != 1 {
				t.Errorf("%d RFC 7592 reads, want 1", s.reads.Load())
			}
			// The next flow uses the new client.
			mustDCRFlow(t, e, s, conn, "http://127.0.0.1:40002/cb")
			if got := apiClientID(t, e, conn); got != "dcr-client-2" {
				t.Errorf("API saw client %q", got)
			}
			if n := s.registrations.Load(); n != 2 {
				t.Errorf("%d registrations, want 2", n)
			}
		})
	}
}

func TestDCRClientCredentialsReadRotatedClient(t *testing.T) {
	s := newDCRServer(t)
	e := newEngine(t, nil, dcrConnector(s, "      grantType: client_credentials"))
	clock := withClock(e)
	conn := Connection{ID: "conn-cc", Connector: "c"}
	if got := apiClientID(t, e, conn); got != "dcr-client-1" {
		t.Fatalf("API saw client %q", got)
	}
	// The server rotates the secret: invalid_client, the RFC 7592 read
	// gives the new one, the grant is tried once more.
	s.rotate("dcr-client-1")
	clock.Advance(2 * time.Hour)
	if got := apiClientID(t, e, conn); got != "dcr-client-1" {
		t.Fatalf("after rotation the API saw client %q", got)
	}
	if s.registrations.Load() != 1 || s.reads.Load() != 1 {
		t.Errorf("%d registrations and %d reads, want 1 and 1", s.registrations.Load(), s.reads.Load())
	}
	// Forgotten: registered anew, and the grant retried.
	s.forget("dcr-client-1")
	clock.Advance(4 * time.Hour)
	if got := apiClientID(t, e, conn); got != "dcr-client-2" {
		t.Fatalf("after forgetting the API saw client %q", got)
	}
	if s.registrations.Load() != 2 {
		t.Errorf("%d registrations, want 2", s.registrations.Load())
	}
}

func TestDCRSecretExpiry(t *testing.T) {
	s := newDCRServer(t)
	clock := &fakeClock{}
	clock.now.Store(time.Now().UnixNano())
	s.set(func(s *dcrServer) { s.secretTTL = time.Hour; s.noRFC7592 = true; s.now = clock.Now })
	st := store.NewMemory()
	e := newEngine(t, nil, dcrConnector(s, ""), WithStore(st))
	e.now = clock.Now
	mustDCRFlow(t, e, s, Connection{Connector: "c"}, redirectURI)
	mustDCRFlow(t, e, s, Connection{Connector: "c"}, redirectURI)
	if n := s.registrations.Load(); n != 1 {
		t.Fatalf("%d registrations before expiry, want 1", n)
	}
	clock.Advance(61 * time.Minute)
	mustDCRFlow(t, e, s, Connection{Connector: "c"}, redirectURI)
	if n := s.registrations.Load(); n != 2 {
		t.Errorf("%d registrations after client_secret_expires_at, want 2", n)
	}
}

func TestDCRBadAnswers(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the registration was sent to another host: %s %s", r.Method, r.URL)
	}))
	defer other.Close()
	for _, tc := range []struct {
		name   string
		set    func(s *dcrServer)
		answer func(w http.ResponseWriter, req map[string]any) bool
		want   string
	}{
		{name: "no client_id", answer: func(w http.ResponseWriter, _ map[string]any) bool {
			writeJSONStatus(w, 201, map[string]any{"client_secret": dcrSecretPrefix + "x"})
			return true
		}, want: "without client_id"},
		{name: "400 with error", answer: func(w http.ResponseWriter, _ map[string]any) bool {
			writeJSONStatus(w, 400, map[string]any{"error": "invalid_redirect_uri", "error_description": "the redirect\x1b[31m is not allowed"})
			return true
		}, want: "invalid_redirect_uri (the redirect?[31m is not allowed)"},
		{name: "huge body", answer: func(w http.ResponseWriter, _ map[string]any) bool {
			w.WriteHeader(201)
			w.Write([]byte(`{"client_id":"x","pad":"` + strings.Repeat("a", 100<<10) + `"}`))
			return true
		}, want: "more than 65536 bytes"},
		{name: "redirect changed", answer: func(w http.ResponseWriter, _ map[string]any) bool {
			writeJSONStatus(w, 201, map[string]any{"client_id": "x", "client_secret": dcrSecretPrefix + "x", "redirect_uris": []string{"https://evil.example/cb"}})
			return true
		}, want: "redirect_uris without"},
		{name: "unasked auth method", answer: func(w http.ResponseWriter, _ map[string]any) bool {
			writeJSONStatus(w, 201, map[string]any{"client_id": "x", "client_secret": dcrSecretPrefix + "x", "redirect_uris": []string{redirectURI}, "token_endpoint_auth_method": "private_key_jwt"})
			return true
		}, want: "did not ask for"},
		{name: "registration_client_uri on another host", answer: func(w http.ResponseWriter, _ map[string]any) bool {
			writeJSONStatus(w, 201, map[string]any{"client_id": "x", "client_secret": dcrSecretPrefix + "x", "redirect_uris": []string{redirectURI},
				"registration_client_uri": other.URL + "/c/x", "registration_access_token": dcrSecretPrefix + "rat"})
			return true
		}, want: "registration_client_uri"},
		{name: "endpoint on another host", set: func(s *dcrServer) { s.regEndpoint = other.URL + "/register" }, want: "registration_endpoint"},
		{name: "no registration endpoint", set: func(s *dcrServer) { s.noEndpoint = true }, want: "offers no registration_endpoint (RFC 7591): give clientId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDCRServer(t)
			s.set(func(s *dcrServer) {
				s.answer = tc.answer
				if tc.set != nil {
					tc.set(s)
				}
			})
			var logs bytes.Buffer
			e := newEngine(t, nil, dcrConnector(s, ""), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			_, err := dcrFlow(e, s, Connection{Connector: "c"}, redirectURI)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), dcrSecretPrefix) || strings.Contains(logs.String(), dcrSecretPrefix) {
				t.Errorf("a registered secret is in the error or logs: %v\n%s", err, logs.String())
			}
			if strings.Contains(tc.name, "host") {
				var he *HostError
				if !errors.As(err, &he) {
					t.Errorf("not a HostError: %v", err)
				}
			}
		})
	}
}

func TestDCRPreRegisteredClientWins(t *testing.T) {
	s := newDCRServer(t)
	e := newEngine(t, nil, dcrConnector(s, "      clientId: pre-registered\n      clientSecret: x"))
	req, err := e.AuthorizationURL(context.Background(), Connection{Connector: "c"}, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(req.URL, "client_id=pre-registered") || s.registrations.Load() != 0 {
		t.Errorf("URL %s after %d registrations", req.URL, s.registrations.Load())
	}
}

func TestDCRReservedConnectionID(t *testing.T) {
	s := newDCRServer(t)
	st := store.NewMemory()
	e := newEngine(t, nil, dcrConnector(s, ""), WithStore(st))
	creds := mustDCRFlow(t, e, s, Connection{Connector: "c"}, redirectURI)
	id := creds[RegistrationCredentialsKey].(map[string]any)["id"].(string)
	if _, err := e.Client(context.Background(), Connection{ID: id, Connector: "c"}); err == nil || !strings.Contains(err.Error(), "reserves") {
		t.Errorf("a client for the registration's record ID: %v", err)
	}
	if _, err := dcrFlow(e, s, Connection{ID: id, Connector: "c"}, redirectURI); err == nil || !strings.Contains(err.Error(), "reserves") {
		t.Errorf("a flow storing over the registration's record: %v", err)
	}
}

func TestDCRDeviceFlowRefused(t *testing.T) {
	s := newDCRServer(t)
	e := newEngine(t, nil, dcrConnector(s, "      deviceAuthorizationUri: "+s.URL+"/device"))
	_, err := e.StartDeviceAuthorization(context.Background(), Connection{Connector: "c"})
	if err == nil || !strings.Contains(err.Error(), "give clientId") {
		t.Errorf("device flow with no clientId: %v", err)
	}
}

// TestDCRCanarySecrets: the registered client secret and registration
// access token are in no error, log or connection credentials, even when
// the token endpoint and the RFC 7592 endpoint quote the request.
func TestDCRCanarySecrets(t *testing.T) {
	s := newDCRServer(t)
	var logs bytes.Buffer
	st := store.NewMemory()
	e := newEngine(t, nil, dcrConnector(s, ""), WithStore(st),
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	clock := withClock(e)
	conn := Connection{ID: "conn-a", Connector: "c"}
	creds := mustDCRFlow(t, e, s, conn, redirectURI)
	// The token endpoint now refuses and echoes what it was sent.
	s.Config.Handler = echoingRefusal(s.Config.Handler)
	clock.Advance(2 * time.Hour)
	_, err := mustClient(t, e, conn).Get(context.Background(), "/api/me")
	if err == nil {
		t.Fatal("no error from a refusing token endpoint")
	}
	_, ferr := dcrFlow(e, s, Connection{Connector: "c"}, redirectURI)
	for name, text := range map[string]string{"refresh error": err.Error(), "flow error": fmt.Sprint(ferr), "logs": logs.String(), "credentials": fmt.Sprint(creds)} {
		if strings.Contains(text, dcrSecretPrefix) {
			t.Errorf("%s holds a registered secret: %s", name, text)
		}
	}
}

// echoingRefusal makes the token endpoint answer invalid_client quoting
// the request's Authorization header and body.
func echoingRefusal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			next.ServeHTTP(w, r)
			return
		}
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		writeJSONStatus(w, 401, map[string]string{"error": "invalid_client",
			"error_description": "bad client " + user + ":" + pass + " " + r.PostForm.Encode()})
	})
}

func TestDCRInitialAccessToken(t *testing.T) {
	s := newDCRServer(t)
	const iat = dcrSecretPrefix + "initial-token"
	s.set(func(s *dcrServer) { s.initialToken = iat; s.noRFC7592 = true })
	// Without it, or with a wrong one: the refusal is shown, the token not.
	e := newEngine(t, nil, dcrConnector(s, "      registrationAccessToken: "+dcrSecretPrefix+"wrong"))
	_, err := dcrFlow(e, s, Connection{Connector: "c"}, redirectURI)
	if err == nil || !strings.Contains(err.Error(), "invalid_token") || strings.Contains(err.Error(), dcrSecretPrefix) {
		t.Fatalf("wrong initial access token: %v", err)
	}
	st := store.NewMemory()
	e = newEngine(t, nil, dcrConnector(s, "      registrationAccessToken: "+iat+"\n      grantType: client_credentials"), WithStore(st))
	clock := withClock(e)
	conn := Connection{ID: "conn-cc", Connector: "c"}
	if got := apiClientID(t, e, conn); got != "dcr-client-1" {
		t.Fatalf("API saw client %q", got)
	}
	// Registering anew (from a renewal, no getOAuthConfig at hand) uses
	// the stored initial access token.
	s.forget("dcr-client-1")
	clock.Advance(2 * time.Hour)
	if got := apiClientID(t, e, conn); got != "dcr-client-2" {
		t.Fatalf("after forgetting, the API saw client %q", got)
	}
}

// TestDCRCredentialsNamingAnotherServersClient: credentials that name a
// registration made at another issuer (same store) are refused before any
// secret is sent.
func TestDCRCredentialsNamingAnotherServersClient(t *testing.T) {
	s1, s2 := newDCRServer(t), newDCRServer(t)
	st := store.NewMemory()
	e1 := newEngine(t, nil, dcrConnector(s1, ""), WithStore(st))
	creds1 := mustDCRFlow(t, e1, s1, Connection{Connector: "c"}, redirectURI)
	e2 := newEngine(t, nil, dcrConnector(s2, ""), WithStore(st))
	clock := withClock(e2)
	creds2 := mustDCRFlow(t, e2, s2, Connection{Connector: "c"}, redirectURI)
	creds2[RegistrationCredentialsKey] = creds1[RegistrationCredentialsKey]
	clock.Advance(2 * time.Hour)
	before := s2.tokenRequests.Load()
	_, err := mustClient(t, e2, Connection{Connector: "c", Credentials: creds2}).Get(context.Background(), "/api/me")
	if err == nil || !strings.Contains(err.Error(), "another authorization server") {
		t.Fatalf("refresh with another server's client: %v", err)
	}
	if s2.tokenRequests.Load() != before {
		t.Error("the other server's client was sent to the token endpoint")
	}
}
