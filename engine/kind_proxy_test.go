package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connspec/connspec/engine/dpop"
)

// proxyDPoPKey is the underlying DPoP connection's key.
var proxyDPoPKey, _ = dpop.GenerateKey("")
var proxyDPoPJWK, _ = proxyDPoPKey.PrivateJWK()

// TestProxyAppliesTheUnderlyingKind: a proxy connection sends what the
// kind of the connection it rides on adds to a request (a minted token
// header, an OAuth 1.0a signature, a new kind's header), not only the
// underlying makeApiClient's headers: without it, the proxy's requests
// went out unauthenticated.
func TestProxyAppliesTheUnderlyingKind(t *testing.T) {
	const toyKey = "toy-canary-proxy-55d1"
	for _, tc := range []struct {
		name, base string
		conn       Connection
		accepted   func(r *http.Request) bool
	}{
		{
			name: "integration-app-token",
			base: "type: integration-app-token\n  makeApiClient:\n    mapping: {baseUri: \"{{URL}}\"}\n",
			conn: Connection{Account: &Account{ID: "acct-1"}},
			accepted: func(r *http.Request) bool {
				_, err := jwt.Parse(r.Header.Get(HeaderIntegrationAppToken), func(*jwt.Token) (any, error) { return workspaceSecret, nil },
					jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("ws-1"), jwt.WithSubject("acct-1"))
				return err == nil
			},
		},
		{
			name: "membrane-token",
			base: "type: membrane-token\n  makeApiClient:\n    mapping: {baseUri: \"{{URL}}\"}\n",
			conn: Connection{Account: &Account{ID: "acct-2"}},
			accepted: func(r *http.Request) bool {
				return r.Header.Get(HeaderMembraneToken) != "" && r.Header.Get(HeaderMembraneToken) == r.Header.Get(HeaderIntegrationAppToken)
			},
		},
		{
			name: "oauth1",
			base: `type: oauth1
  getOAuthConfig:
    mapping: {consumerKey: ck, consumerSecret: cs, requestTokenUri: "{{URL}}/rt", authorizeUri: "{{URL}}/auth", tokenUri: "{{URL}}/at"}
  makeApiClient:
    mapping: {baseUri: "{{URL}}"}
`,
			conn: Connection{Credentials: map[string]any{"oauth_token": "tok-1", "oauth_token_secret": "sec-canary-1"}},
			accepted: func(r *http.Request) bool {
				a := r.Header.Get("Authorization")
				return strings.HasPrefix(a, "OAuth ") && strings.Contains(a, `oauth_token="tok-1"`) && strings.Contains(a, "oauth_signature=")
			},
		},
		{
			name: "oauth2-dpop",
			base: `type: oauth2
  getOAuthConfig:
    mapping: {clientId: c, authorizeUri: "{{URL}}/auth", tokenUri: "{{URL}}/token", dpop: true}
  makeApiClient:
    mapping:
      baseUri: "{{URL}}"
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`,
			conn: Connection{Credentials: map[string]any{"access_token": "at-dpop-1", "token_type": "DPoP", DPoPCredentialsKey: string(proxyDPoPJWK)}},
			accepted: func(r *http.Request) bool {
				_, err := new(dpop.Verifier).VerifyRequest(r, dpop.Check{AccessToken: "at-dpop-1", JKT: proxyDPoPKey.Thumbprint()})
				return err == nil && r.Header.Get("Authorization") == "DPoP at-dpop-1"
			},
		},
		{
			name: staticHeaderType,
			base: "type: " + staticHeaderType + "\n  makeApiClient:\n    mapping: {baseUri: \"{{URL}}\"}\n",
			conn: Connection{ConnectionParameters: map[string]any{"key": toyKey}},
			accepted: func(r *http.Request) bool {
				return r.Header.Get(staticHeader) == toyKey+"/1"
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.accepted(r) {
					w.WriteHeader(http.StatusForbidden)
					return
				}
				w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
			}))
			defer srv.Close()
			e := New(WithWorkspace("ws-1", workspaceSecret))
			for name, src := range map[string]string{
				"base.yml":  "key: base\nname: Base\nauth:\n  " + tc.base,
				"proxy.yml": "key: p\nname: P\nauth:\n  type: proxy\n  proxyKey: base\n  makeApiClient:\n    mapping: {baseUri: \"{{URL}}/p\"}\n",
			} {
				src = strings.ReplaceAll(src, "{{URL}}", srv.URL)
				if _, diags := e.LoadFS(fstest.MapFS{name: {Data: []byte(src)}}, name); diags.HasErrors() {
					t.Fatal(diags.Error())
				}
			}
			base := tc.conn
			base.Connector = "base"
			cl, err := e.Client(context.Background(), Connection{Connector: "p", Account: tc.conn.Account, Base: &base})
			if err != nil {
				t.Fatal(err)
			}
			out, err := cl.Get(context.Background(), "/items")
			if err != nil {
				t.Fatalf("the proxy's request was refused: %v", err)
			}
			if got := out.(map[string]any)["path"]; got != "/p/items" {
				t.Errorf("path %v, want /p/items", got)
			}
		})
	}
}
