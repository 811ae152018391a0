package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestDocusignJWTGrant: the bundled docusign connector's assertion is what
// Docusign's JWT Grant documents (RS256, iss the integration key, sub the
// user id, aud the account server's bare host, scope "signature
// impersonation", at most an hour), and the API goes to the account's
// server on docusign.net.
func TestDocusignJWTGrant(t *testing.T) {
	for env, host := range map[string]string{"developer": "account-d.docusign.com", "production": "account.docusign.com"} {
		t.Run(env, func(t *testing.T) {
			var mu sync.Mutex
			var failures []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/oauth/token" {
					w.Write([]byte(`{"ok":true}`))
					return
				}
				r.ParseForm()
				claims := jwt.MapClaims{}
				_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(*jwt.Token) (any, error) { return jwtTestRSA().Public(), nil },
					jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithAudience(host))
				if err == nil {
					for name, want := range map[string]string{"iss": "ik-1", "sub": "4ad7f7d0-0000-4000-8000-000000000001", "scope": "signature impersonation"} {
						if got, _ := claims[name].(string); got != want {
							err = fmt.Errorf("claim %s = %q, want %q", name, got, want)
						}
					}
				}
				if exp, _ := claims.GetExpirationTime(); err == nil && time.Until(exp.Time) > time.Hour {
					err = fmt.Errorf("the assertion lives longer than an hour")
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					w.WriteHeader(http.StatusBadRequest)
					w.Write([]byte(`{"error":"invalid_grant"}`))
					return
				}
				json.NewEncoder(w).Encode(map[string]any{"access_token": "dstok", "token_type": "Bearer", "expires_in": 3600})
			}))
			defer srv.Close()
			target, _ := url.Parse(srv.URL)
			rt := &recordingTransport{target: target}
			e := New(WithTransport(rt))
			if _, diags := e.LoadFS(os.DirFS("../connectors"), "docusign"); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			input := map[string]any{"environment": env, "server": "na3", "userId": "4ad7f7d0-0000-4000-8000-000000000001", "accountId": "9e1c2a3b-0000-4000-8000-000000000002"}
			cl := mustClient(t, e, Connection{Connector: "docusign", ConnectorParameters: map[string]any{"integrationKey": "ik-1", "privateKey": pkcs8PEM(t, jwtTestRSA())}, ConnectionParameters: input})
			if got := get(t, cl, "/envelopes"); got["ok"] != true {
				t.Fatalf("got %v", got)
			}
			if hosts := strings.Join(rt.sent(), ","); hosts != host+",na3.docusign.net" {
				t.Errorf("requests went to %s", hosts)
			}
			for _, f := range failures {
				t.Error("token endpoint: " + f)
			}
		})
	}
}

// TestDocusignServerIsOneLabel: the server input fills one label of
// docusign.net; anything that would move the API elsewhere is refused
// before a request is sent.
func TestDocusignServerIsOneLabel(t *testing.T) {
	rt := &recordingTransport{target: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}}
	e := New(WithTransport(rt))
	if _, diags := e.LoadFS(os.DirFS("../connectors"), "docusign"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, server := range []string{"evil.com#", "evil.com/x?", "na3.evil", "a@evil.com", ""} {
		input := map[string]any{"server": server, "userId": "4ad7f7d0-0000-4000-8000-000000000001", "accountId": "9e1c2a3b-0000-4000-8000-000000000002"}
		_, err := e.Client(context.Background(), Connection{Connector: "docusign", ConnectorParameters: map[string]any{"integrationKey": "ik-1", "privateKey": pkcs8PEM(t, jwtTestRSA())}, ConnectionParameters: input})
		if err == nil {
			t.Errorf("server %q accepted", server)
		}
	}
	if sent := rt.sent(); len(sent) != 0 {
		t.Errorf("requests sent: %v", sent)
	}
}
