package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// Subject tokens of the tests below: each must reach the STS and never an
// error, a log line or the API.
const (
	subjectA     = "idp-token-ALICE-CANARY-51c2"
	subjectA2    = "idp-token-ALICE-ROTATED-CANARY-9d0e"
	subjectB     = "idp-token-BOB-CANARY-77aa"
	subjectStale = "idp-token-STALE-CANARY-0b1f"
	actorCanary  = "actor-token-CANARY-3e4d"
)

// subjectSTS is an RFC 8693 token endpoint written from section 2.1/2.2: it
// checks every request field, accepts the subject tokens it knows (issuing
// a token named after the subject's label), refuses the others with
// invalid_grant (echoing them, as a careless server does), and answers with
// a subject_token field of its own that must not replace the stored one.
type subjectSTS struct {
	srv *httptest.Server
	mu  sync.Mutex
	// subjects maps an accepted subject token to its label.
	subjects map[string]string
	// actor is the actor token required when set (type jwt).
	actor string
	seen  []string // subject tokens received, in order
	n     int
	bad   []string
}

func newSubjectSTS(t *testing.T, subjects map[string]string) *subjectSTS {
	s := &subjectSTS{subjects: subjects}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
			s.bad = append(s.bad, "body is not form-encoded")
		}
		f := r.PostForm
		for k, v := range map[string]string{
			"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
			"subject_token_type":   "urn:ietf:params:oauth:token-type:id_token",
			"audience":             "api.example",
			"resource":             s.srv.URL + "/v1",
			"scope":                "read",
			"requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
		} {
			if got := f[k]; len(got) != 1 || got[0] != v {
				s.bad = append(s.bad, fmt.Sprintf("%s = %q, want %q", k, got, v))
			}
		}
		if got := f["subject_token"]; len(got) != 1 || got[0] == "" {
			s.bad = append(s.bad, "subject_token missing")
		}
		if s.actor != "" {
			if f.Get("actor_token") != s.actor || f.Get("actor_token_type") != "urn:ietf:params:oauth:token-type:jwt" {
				s.bad = append(s.bad, "actor_token or actor_token_type wrong")
			}
		} else if f.Has("actor_token") || f.Has("actor_token_type") {
			s.bad = append(s.bad, "actor fields sent without an actor token")
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "client-1" || p != "secret-1" {
			s.bad = append(s.bad, "client authentication missing (Basic)")
		}
		subject := f.Get("subject_token")
		s.seen = append(s.seen, subject)
		label, ok := s.subjects[subject]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "subject " + subject + " expired (actor " + f.Get("actor_token") + ")"})
			return
		}
		s.n++
		json.NewEncoder(w).Encode(map[string]any{
			"access_token":      fmt.Sprintf("api-%s-%d", label, s.n),
			"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
			"token_type":        "Bearer",
			"expires_in":        3600,
			"subject_token":     "server-says-overwrite-me",
		})
	})
	mux.HandleFunc("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer api-")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": "api-" + tok})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// exchanged returns the subject tokens the STS received so far.
func (s *subjectSTS) exchanged() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *subjectSTS) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Errorf("token endpoint saw a request that is not RFC 8693 section 2.1: %s", strings.Join(s.bad, "; "))
	}
}

// subjectConnector maps the subject token from the credentials; extra is
// added to getOAuthConfig's mapping.
func subjectConnector(s *subjectSTS, subject, extra string) string {
	return strings.NewReplacer("{{URL}}", s.srv.URL, "{{SUBJECT}}", subject, "{{EXTRA}}", extra).Replace(`name: C
key: c
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      grantType: urn:ietf:params:oauth:grant-type:token-exchange
      clientId: client-1
      clientSecret: secret-1
      clientAuthLocation: headers
      tokenUri: {{URL}}/token
      subjectToken: {{SUBJECT}}
      subjectTokenType: urn:ietf:params:oauth:token-type:id_token
      audience: api.example
      resource: {{URL}}/v1
      requestedTokenType: urn:ietf:params:oauth:token-type:access_token
      scopes: [read]
{{EXTRA}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`)
}

const fromCredentials = "{$var: credentials.subject_token}"

func noCanary(t *testing.T, what, text string) {
	t.Helper()
	for _, c := range []string{subjectA, subjectA2, subjectB, subjectStale, actorCanary} {
		if strings.Contains(text, c) {
			t.Errorf("%s contains the token %s: %s", what, c, text)
		}
	}
}

// TestTokenExchangeSubjectFromStoredCredentials: the application stores the
// user's IdP token with the connection; the exchange sends it, the stored
// credentials keep it beside the exchanged token (the server's own
// subject_token field does not replace it), and after the application
// rotates it in the store the next renewal sends the new one.
func TestTokenExchangeSubjectFromStoredCredentials(t *testing.T) {
	s := newSubjectSTS(t, map[string]string{subjectA: "alice", subjectA2: "alice2"})
	st := store.NewMemory()
	logger, logs := txLogger()
	e := newEngine(t, nil, subjectConnector(s, fromCredentials, ""), WithStore(st), WithLogger(logger))
	clock := withClock(e)
	ctx := context.Background()
	if _, err := st.CompareAndSwap(ctx, "conn-1", 0, map[string]any{"subject_token": subjectA}); err != nil {
		t.Fatal(err)
	}
	cl := mustClient(t, e, Connection{ID: "conn-1", Connector: "c"})
	if me := get(t, cl, "/me"); me["token"] != "api-alice-1" {
		t.Fatalf("API saw %v", me)
	}
	rec, err := st.Get(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Credentials["subject_token"] != subjectA || rec.Credentials["access_token"] != "api-alice-1" {
		t.Fatalf("stored credentials after the exchange: subject_token kept %v, access_token %v",
			rec.Credentials["subject_token"] == subjectA, rec.Credentials["access_token"])
	}

	// The application rotates the subject token (its IdP refreshed it).
	rotated := map[string]any{}
	for k, v := range rec.Credentials {
		rotated[k] = v
	}
	rotated["subject_token"] = subjectA2
	if _, err := st.CompareAndSwap(ctx, "conn-1", rec.Version, rotated); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	if me := get(t, cl, "/me"); me["token"] != "api-alice2-2" {
		t.Fatalf("after rotation and expiry the API saw %v, want the token exchanged from the rotated subject token", me)
	}
	if got := s.exchanged(); len(got) != 2 || got[0] != subjectA || got[1] != subjectA2 {
		t.Errorf("the STS received %d exchanges; want the stored subject token, then the rotated one", len(got))
	}
	if rec, _ := st.Get(ctx, "conn-1"); rec.Credentials["subject_token"] != subjectA2 {
		t.Error("the rotated subject token is not kept in the stored credentials")
	}
	s.check(t)
	noCanary(t, "the logs", logs.String())
}

// TestTokenExchangeSubjectFromGivenCredentials: credentials given with the
// connection (no store ID) work the same way.
func TestTokenExchangeSubjectFromGivenCredentials(t *testing.T) {
	s := newSubjectSTS(t, map[string]string{subjectB: "bob"})
	e := newEngine(t, nil, subjectConnector(s, fromCredentials, ""))
	cl := mustClient(t, e, Connection{Connector: "c", Credentials: map[string]any{"subject_token": subjectB}})
	if me := get(t, cl, "/me"); me["token"] != "api-bob-1" {
		t.Fatalf("API saw %v", me)
	}
	if cl.Credentials()["subject_token"] != subjectB {
		t.Error("the subject token is not kept in the credentials")
	}
	s.check(t)
}

// TestTokenExchangeSubjectFromResolver: a resolver returns each account's
// IdP token as a subjectToken result; the engine exchanges it per account,
// reuses the exchanged token (one resolver call and one exchange per
// account across clients), asks again after expiry, and when the STS
// refuses the subject token asks the resolver once more with ForceRefresh.
func TestTokenExchangeSubjectFromResolver(t *testing.T) {
	s := newSubjectSTS(t, map[string]string{subjectA: "alice", subjectB: "bob", subjectA2: "carol"})
	logger, logs := txLogger()
	e := newEngine(t, nil, subjectConnector(s, fromCredentials, ""), WithLogger(logger))
	clock := withClock(e)
	var mu sync.Mutex
	calls := map[string][]bool{} // account -> ForceRefresh of each call
	e.DefineAuthResolver("c", func(ctx context.Context, run RunContext, in IntegrationInfo) (*AuthResult, error) {
		mu.Lock()
		defer mu.Unlock()
		id := run.Account.ID
		calls[id] = append(calls[id], run.ForceRefresh)
		tok := map[string]string{"alice": subjectA, "bob": subjectB, "carol": subjectStale}[id]
		if id == "carol" && run.ForceRefresh {
			tok = subjectA2 // the application's IdP gave carol a fresh token
		}
		return &AuthResult{Type: "subjectToken", Token: tok}, nil
	})
	client := func(account string) *Client {
		return mustClient(t, e, Connection{Connector: "c", Account: &Account{ID: account}})
	}
	alice, bob := client("alice"), client("bob")
	if me := get(t, alice, "/me"); me["token"] != "api-alice-1" {
		t.Fatalf("alice: API saw %v", me)
	}
	if me := get(t, bob, "/me"); me["token"] != "api-bob-2" {
		t.Fatalf("bob: API saw %v", me)
	}
	if me := get(t, client("alice"), "/me"); me["token"] != "api-alice-1" {
		t.Fatalf("a second client of alice: API saw %v, want the cached exchanged token", me)
	}
	if n := len(s.exchanged()); n != 2 {
		t.Errorf("%d exchanges for two accounts, want 2", n)
	}
	clock.Advance(2 * time.Hour)
	if me := get(t, alice, "/me"); me["token"] != "api-alice-3" {
		t.Fatalf("alice after expiry: API saw %v", me)
	}
	if me := get(t, client("carol"), "/me"); me["token"] != "api-carol-4" {
		t.Fatalf("carol: API saw %v, want the token exchanged from the resolver's fresh subject token", me)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(calls["alice"]) != "[false false]" || fmt.Sprint(calls["bob"]) != "[false]" || fmt.Sprint(calls["carol"]) != "[false true]" {
		t.Errorf("resolver calls (ForceRefresh of each): %v; want alice twice (start, expiry), bob once, carol again with ForceRefresh after the refusal", calls)
	}
	s.check(t)
	noCanary(t, "the logs", logs.String())
}

// TestTokenExchangeSubjectMissing: a missing subject token is refused,
// naming subjectToken, and nothing is sent; a resolver's subject token for a
// connector that does not read it from the credentials, or that does not
// exchange, is refused too.
func TestTokenExchangeSubjectMissing(t *testing.T) {
	ctx := context.Background()
	t.Run("stored credentials without it", func(t *testing.T) {
		s := newSubjectSTS(t, map[string]string{subjectA: "alice"})
		st := store.NewMemory()
		e := newEngine(t, nil, subjectConnector(s, fromCredentials, ""), WithStore(st))
		st.CompareAndSwap(ctx, "conn-1", 0, map[string]any{"other": "x"})
		cl := mustClient(t, e, Connection{ID: "conn-1", Connector: "c"})
		_, err := cl.Get(ctx, "/me")
		if err == nil || !strings.Contains(err.Error(), "subjectToken is required") {
			t.Fatalf("want an error naming subjectToken, got %v", err)
		}
		if n := len(s.exchanged()); n != 0 {
			t.Errorf("%d exchanges sent without a subject token", n)
		}
	})
	t.Run("nothing stored and nothing given", func(t *testing.T) {
		s := newSubjectSTS(t, map[string]string{subjectA: "alice"})
		e := newEngine(t, nil, subjectConnector(s, fromCredentials, ""))
		_, err := e.Client(ctx, Connection{Connector: "c", Credentials: map[string]any{"subject": subjectA}})
		if err == nil || !strings.Contains(err.Error(), "subjectToken is required") {
			t.Fatalf("want an error naming subjectToken, got %v", err)
		}
		noCanary(t, "the error", err.Error())
		if n := len(s.exchanged()); n != 0 {
			t.Errorf("%d exchanges sent without a subject token", n)
		}
		// The same connection with the key the mapping reads is accepted.
		cl := mustClient(t, e, Connection{Connector: "c", Credentials: map[string]any{"subject_token": subjectA}})
		if me := get(t, cl, "/me"); me["token"] != "api-alice-1" {
			t.Errorf("API saw %v", me)
		}
	})
	t.Run("resolver token mapped from elsewhere", func(t *testing.T) {
		s := newSubjectSTS(t, map[string]string{subjectA: "alice"})
		e := newEngine(t, nil, subjectConnector(s, "{$var: connectionParameters.idToken}", ""))
		e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
			return &AuthResult{Type: "subjectToken", Token: subjectA}, nil
		})
		_, err := e.Client(ctx, Connection{Connector: "c", Account: &Account{ID: "a"}, ConnectionParameters: map[string]any{"idToken": subjectB}})
		if err == nil || !strings.Contains(err.Error(), "credentials.subject_token") {
			t.Fatalf("want an error saying to map credentials.subject_token, got %v", err)
		}
		noCanary(t, "the error", err.Error())
		if n := len(s.exchanged()); n != 0 {
			t.Errorf("%d exchanges sent with the wrong subject token", n)
		}
	})
	t.Run("resolver token for a connector without the grant", func(t *testing.T) {
		e := newEngine(t, nil, `name: C
key: c
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      grantType: client_credentials
      clientId: client-1
      clientSecret: secret-1
      tokenUri: https://sts.example/token
  makeApiClient:
    mapping:
      baseUri: https://api.example
`)
		e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
			return &AuthResult{Type: "subjectToken", Token: subjectA}, nil
		})
		_, err := e.Client(ctx, Connection{Connector: "c", Account: &Account{ID: "a"}})
		if err == nil || !strings.Contains(err.Error(), "token exchange") {
			t.Fatalf("want an error naming the token exchange grant, got %v", err)
		}
		noCanary(t, "the error", err.Error())
	})
}

// TestTokenExchangeSubjectCanaries: subject and actor tokens from the
// credentials or a resolver stay out of errors and logs, even when the STS
// quotes them in its refusal.
func TestTokenExchangeSubjectCanaries(t *testing.T) {
	ctx := context.Background()
	actor := "      actorToken: {$var: credentials.actor_token}\n      actorTokenType: urn:ietf:params:oauth:token-type:jwt"
	t.Run("stored", func(t *testing.T) {
		s := newSubjectSTS(t, map[string]string{})
		s.actor = actorCanary
		logger, logs := txLogger()
		st := store.NewMemory()
		e := newEngine(t, nil, subjectConnector(s, fromCredentials, actor), WithStore(st), WithLogger(logger))
		st.CompareAndSwap(ctx, "conn-1", 0, map[string]any{"subject_token": subjectA, "actor_token": actorCanary})
		cl := mustClient(t, e, Connection{ID: "conn-1", Connector: "c"})
		_, err := cl.Get(ctx, "/me")
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("want the STS's invalid_grant, got %v", err)
		}
		noCanary(t, "the error", err.Error())
		noCanary(t, "the logs", logs.String())
		if rec, _ := st.Get(ctx, "conn-1"); rec.State.LastError != "" {
			noCanary(t, "the recorded state", rec.State.LastError)
		}
		s.check(t)
	})
	t.Run("resolver", func(t *testing.T) {
		s := newSubjectSTS(t, map[string]string{})
		logger, logs := txLogger()
		e := newEngine(t, nil, subjectConnector(s, fromCredentials, ""), WithLogger(logger))
		e.DefineAuthResolver("c", func(_ context.Context, run RunContext, _ IntegrationInfo) (*AuthResult, error) {
			if run.ForceRefresh {
				return nil, fmt.Errorf("IdP refused to refresh %s", subjectStale)
			}
			return &AuthResult{Type: "subjectToken", Token: subjectStale}, nil
		})
		_, err := e.Client(ctx, Connection{Connector: "c", Account: &Account{ID: "a"}})
		if err == nil || !strings.Contains(err.Error(), "resolver failed") {
			t.Fatalf("want the resolver's refusal after the STS's, got %v", err)
		}
		noCanary(t, "the error", err.Error())
		noCanary(t, "the logs", logs.String())
		if got := s.exchanged(); len(got) != 1 {
			t.Errorf("%d exchanges, want 1 (the resolver gave no second token)", len(got))
		}
		s.check(t)
	})
}
