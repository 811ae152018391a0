package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// subjectCanary is the user's IdP token: it must reach the STS and never an
// error or a log line.
const subjectCanary = "idp-subject-token-CANARY-7f3a9c"

// stsServer is a token exchange endpoint (RFC 8693 section 2.1 / 2.2)
// written from the RFC, and an API that takes its tokens.
type stsServer struct {
	srv       *httptest.Server
	exchanges atomic.Int32
	// errCode makes the token endpoint answer with this §2.2.2 error,
	// echoing the subject token in its description.
	errCode string
	mu      sync.Mutex
	bad     []string // violations of §2.1 seen by the server
}

func newSTS(t *testing.T) *stsServer {
	s := &stsServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
			s.fail("body is not form-encoded")
		}
		f := r.PostForm
		want := map[string]string{
			"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
			"subject_token":        subjectCanary,
			"subject_token_type":   "urn:ietf:params:oauth:token-type:id_token",
			"audience":             "api.example",
			"resource":             s.srv.URL + "/v1",
			"scope":                "read write",
			"requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
		}
		for k, v := range want {
			if got := f[k]; len(got) != 1 || got[0] != v {
				s.fail(fmt.Sprintf("%s = %q, want %q", k, got, v))
			}
		}
		if f.Has("actor_token") || f.Has("actor_token_type") {
			s.fail("actor fields sent without an actor token")
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "client-1" || p != "secret-1" {
			s.fail("client authentication missing (Basic)")
		}
		if s.errCode != "" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": s.errCode, "error_description": "cannot exchange " + f.Get("subject_token")})
			return
		}
		n := s.exchanges.Add(1)
		time.Sleep(20 * time.Millisecond) // let concurrent callers pile up
		json.NewEncoder(w).Encode(map[string]any{
			"access_token":      fmt.Sprintf("api-token-%d", n),
			"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
			"token_type":        "Bearer",
			"expires_in":        3600,
		})
	})
	mux.HandleFunc("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer api-token-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stsServer) fail(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bad = append(s.bad, msg)
}

func (s *stsServer) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Errorf("token endpoint saw a request that is not RFC 8693 section 2.1: %s", strings.Join(s.bad, "; "))
	}
}

// txConnector maps the subject token from the connection input; the
// grantType line can be replaced.
func txConnector(s *stsServer, grant string) string {
	return strings.NewReplacer("{{URL}}", s.srv.URL, "{{GRANT}}", grant).Replace(`name: C
key: c
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      grantType: {{GRANT}}
      clientId: client-1
      clientSecret: secret-1
      clientAuthLocation: headers
      tokenUri: {{URL}}/token
      subjectToken: {$var: connectionParameters.idToken}
      subjectTokenType: urn:ietf:params:oauth:token-type:id_token
      audience: api.example
      resource: {{URL}}/v1
      requestedTokenType: urn:ietf:params:oauth:token-type:access_token
      scopes: [read, write]
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`)
}

const txGrant = "urn:ietf:params:oauth:grant-type:token-exchange"

func txLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestTokenExchangeEndToEnd: the first request exchanges the subject token
// (every §2.1 field checked by the server) and sends the issued token;
// after expiry 20 goroutines share one new exchange.
func TestTokenExchangeEndToEnd(t *testing.T) {
	s := newSTS(t)
	logger, logs := txLogger()
	e := newEngine(t, nil, txConnector(s, txGrant), WithLogger(logger))
	clock := withClock(e)
	cl := mustClient(t, e, Connection{Connector: "c", ConnectionParameters: map[string]any{"idToken": subjectCanary}})
	if s.exchanges.Load() != 0 {
		t.Error("the exchange must happen on first use, not before")
	}
	for range 3 {
		if me := get(t, cl, "/me"); me["token"] != "api-token-1" {
			t.Fatalf("API saw %v", me)
		}
	}
	if n := s.exchanges.Load(); n != 1 {
		t.Fatalf("%d exchanges for 3 requests, want 1", n)
	}
	clock.Advance(2 * time.Hour)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, err := cl.Get(context.Background(), "/me"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := s.exchanges.Load(); n != 2 || failed.Load() != 0 {
		t.Errorf("after expiry: %d exchanges in all, %d failed requests; want 2 and 0", n, failed.Load())
	}
	s.check(t)
	if strings.Contains(logs.String(), subjectCanary) {
		t.Error("the subject token is in the logs")
	}
}

// TestTokenExchangeErrors: §2.2.2 errors name the code and never quote the
// subject token, even when the server echoes it.
func TestTokenExchangeErrors(t *testing.T) {
	for _, code := range []string{"invalid_request", "invalid_target"} {
		t.Run(code, func(t *testing.T) {
			s := newSTS(t)
			s.errCode = code
			logger, logs := txLogger()
			e := newEngine(t, nil, txConnector(s, txGrant), WithLogger(logger))
			cl := mustClient(t, e, Connection{Connector: "c", ConnectionParameters: map[string]any{"idToken": subjectCanary}})
			_, err := cl.Get(context.Background(), "/me")
			if err == nil || !strings.Contains(err.Error(), code) {
				t.Fatalf("want an error naming %s, got %v", code, err)
			}
			if strings.Contains(err.Error(), subjectCanary) || strings.Contains(logs.String(), subjectCanary) {
				t.Errorf("the subject token leaked: %v", err)
			}
			s.check(t)
		})
	}
}

// TestTokenExchangeMissingSubjectToken: no subject token is a clear error,
// and no request is sent.
func TestTokenExchangeMissingSubjectToken(t *testing.T) {
	s := newSTS(t)
	e := newEngine(t, nil, txConnector(s, txGrant))
	_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{}})
	if err == nil {
		cl := mustClient(t, e, Connection{Connector: "c", ConnectionParameters: map[string]any{}})
		_, err = cl.Get(context.Background(), "/me")
	}
	if err == nil || !strings.Contains(err.Error(), "subjectToken is required") {
		t.Fatalf("want an error naming subjectToken, got %v", err)
	}
	if s.exchanges.Load() != 0 {
		t.Error("an exchange was sent without a subject token")
	}
}
