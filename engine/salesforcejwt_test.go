package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connspec/connspec/engine/oauth2"
)

// salesforceLogin stands for Salesforce's login hosts and an org's
// instance: the token endpoint verifies each JWT bearer assertion on its
// own as Salesforce documents it (RS256 with the certificate's public key,
// iss the consumer key, sub the username, aud the login host, exp within
// three minutes), and answers with the instance URL.
type salesforceLogin struct {
	t        *testing.T
	srv      *httptest.Server
	instance string // instance_url in token responses; "" leaves it out
	aud      string // the login host the assertion is for
	mu       sync.Mutex
	failures []string
	tokens   int
	lifetime []time.Duration // exp - now of each assertion received
}

func (s *salesforceLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/services/oauth2/token" {
		if r.Header.Get("Authorization") != fmt.Sprintf("Bearer 00Dsf!tok-%d", s.tokens) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path})
		return
	}
	r.ParseForm()
	if err := s.verify(r); err != nil {
		s.failures = append(s.failures, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"invalid assertion"}`))
		return
	}
	s.tokens++
	resp := map[string]any{"access_token": fmt.Sprintf("00Dsf!tok-%d", s.tokens), "token_type": "Bearer", "scope": "api",
		"id": "https://login.salesforce.com/id/00D000000000001EAA/005000000000009AAA", "issued_at": "1700000000000"}
	if s.instance != "" {
		resp["instance_url"] = s.instance
	}
	json.NewEncoder(w).Encode(resp)
}

func (s *salesforceLogin) verify(r *http.Request) error {
	f := r.PostForm
	if f.Get("grant_type") != oauth2.GrantJWTBearer || f.Has("client_secret") || r.Header.Get("Authorization") != "" {
		return fmt.Errorf("not a bare JWT bearer request: %v", f)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(f.Get("assertion"), claims, func(*jwt.Token) (any, error) { return jwtTestRSA().Public(), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired()); err != nil {
		return fmt.Errorf("assertion does not verify: %v", err)
	}
	auds, _ := claims.GetAudience()
	if len(auds) != 1 || auds[0] != s.aud {
		return fmt.Errorf("aud %v, want %s", auds, s.aud)
	}
	for name, want := range map[string]string{"iss": "3MVG9consumer-key", "sub": "integration@acme.com"} {
		if got, _ := claims[name].(string); got != want {
			return fmt.Errorf("claim %s = %q, want %q", name, got, want)
		}
	}
	exp, _ := claims.GetExpirationTime()
	left := time.Until(exp.Time)
	s.lifetime = append(s.lifetime, left)
	if left > 180*time.Second {
		return fmt.Errorf("the assertion lives %v: Salesforce wants exp within three minutes", left)
	}
	return nil
}

func (s *salesforceLogin) check() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		s.t.Error("token endpoint: " + f)
	}
}

// salesforceJWT makes the bundled salesforce connector's jwt option talk
// to a loopback salesforceLogin, whatever host it asks for.
func salesforceJWT(t *testing.T, instance string, opts ...Option) (*Engine, *salesforceLogin, *recordingTransport) {
	s := &salesforceLogin{t: t, instance: instance, aud: "https://login.salesforce.com"}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	target, _ := url.Parse(s.srv.URL)
	rt := &recordingTransport{target: target}
	e := New(append([]Option{WithTransport(rt)}, opts...)...)
	if _, diags := e.LoadFS(os.DirFS("../connectors"), "salesforce"); diags.HasErrors() {
		t.Fatalf("salesforce does not load:\n%s", diags.Error())
	}
	return e, s, rt
}

func salesforceJWTConn(t *testing.T, env string) Connection {
	return Connection{Connector: "salesforce", Option: "jwt",
		ConnectorParameters:  map[string]any{"clientId": "3MVG9consumer-key", "privateKey": pkcs8PEM(t, jwtTestRSA())},
		ConnectionParameters: map[string]any{"username": "integration@acme.com", "environment": env}}
}

// TestSalesforceJWTOption: the bundled option signs what Salesforce
// checks, with an assertion that lives at most three minutes, at the
// production or sandbox login host, and the token response's instance_url
// becomes the API base.
func TestSalesforceJWTOption(t *testing.T) {
	for env, login := range map[string]string{"production": "login.salesforce.com", "sandbox": "test.salesforce.com"} {
		t.Run(env, func(t *testing.T) {
			e, s, rt := salesforceJWT(t, "https://acme.my.salesforce.com")
			s.aud = "https://" + login
			cl := mustClient(t, e, salesforceJWTConn(t, env))
			got := get(t, cl, "/limits")
			if got["path"] != "/services/data/v62.0/limits" {
				t.Errorf("the API call went to %v", got)
			}
			if hosts := strings.Join(rt.sent(), ","); hosts != login+",acme.my.salesforce.com" {
				t.Errorf("requests went to %s", hosts)
			}
			s.check()
			if len(s.lifetime) != 1 || s.lifetime[0] <= 0 {
				t.Errorf("assertion lifetimes %v", s.lifetime)
			}
		})
	}
}

// TestSalesforceJWTNoInstanceURL: a token response without instance_url
// is an error, never a call to the login host with the token.
func TestSalesforceJWTNoInstanceURL(t *testing.T) {
	e, _, rt := salesforceJWT(t, "")
	cl := mustClient(t, e, salesforceJWTConn(t, "production"))
	if _, err := cl.Get(context.Background(), "/limits"); err == nil {
		t.Fatal("no error")
	}
	if hosts := strings.Join(rt.sent(), ","); hosts != "login.salesforce.com" {
		t.Errorf("requests went to %s, want the token request only", hosts)
	}
}

// TestSalesforceJWTKeyNeverShown: the certificate's private key (a secret
// connector parameter) is in no error or log line when Salesforce refuses
// the assertion.
func TestSalesforceJWTKeyNeverShown(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, _, _ := salesforceJWT(t, "https://acme.my.salesforce.com", WithLogger(logger))
	conn := salesforceJWTConn(t, "production")
	conn.ConnectionParameters["username"] = "someone-else@acme.com" // refused: invalid_grant
	pemKey := conn.ConnectorParameters["privateKey"].(string)
	cl := mustClient(t, e, conn)
	_, err := cl.Get(context.Background(), "/limits")
	if err == nil {
		t.Fatal("no error")
	}
	inner := strings.Split(strings.TrimSpace(pemKey), "\n")[3]
	for where, out := range map[string]string{"error": err.Error(), "log": logs.String()} {
		if strings.Contains(out, inner) {
			t.Errorf("the key shows in the %s", where)
		}
	}
}
