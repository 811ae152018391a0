package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// noRefreshToken: true declares the provider has no refresh grant
// (https://docs.integration.app/docs/oauth2, "Config Parameters"): the
// engine must never send a refresh_token grant then, neither on a 401 nor
// on expiry, even when the credentials hold a refresh_token. Without the
// flag the same connection refreshes.
func TestNoRefreshTokenNeverRefreshes(t *testing.T) {
	var tokenCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			tokenCalls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"new","expires_in":3600}`))
		case r.Header.Get("Authorization") == "Bearer new":
			w.Write([]byte(`{"id":1}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	src := func(flag string) string {
		return strings.ReplaceAll(`key: nr
name: NR
auth:
  type: oauth2
  getOAuthConfig:
    implementationType: mapping
    mapping:
      clientId: c
      clientSecret: s
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
      `+flag+`
  makeApiClient:
    implementationType: mapping
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`, "{{URL}}", srv.URL)
	}
	expired := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name, flag  string
		creds       map[string]any
		wantRefresh bool
	}{
		{"flag, 401", "noRefreshToken: true", map[string]any{"access_token": "old", "refresh_token": "rt"}, false},
		{"flag as string, 401", `noRefreshToken: "true"`, map[string]any{"access_token": "old", "refresh_token": "rt"}, false},
		{"flag, expired", "noRefreshToken: true", map[string]any{"access_token": "old", "refresh_token": "rt", "expires_at": expired}, false},
		{"no flag, 401", "noRefreshToken: false", map[string]any{"access_token": "old", "refresh_token": "rt"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := New()
			if _, diags := e.LoadFS(fstest.MapFS{"nr.yml": {Data: []byte(src(c.flag))}}, "nr.yml"); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			before := tokenCalls.Load()
			cl, err := e.Client(context.Background(), Connection{Connector: "nr", Credentials: c.creds})
			if err == nil {
				_, err = cl.Do(context.Background(), http.MethodGet, "/me", nil)
			}
			refreshed := tokenCalls.Load() != before
			if refreshed != c.wantRefresh {
				t.Fatalf("refreshed %v, want %v (err %v)", refreshed, c.wantRefresh, err)
			}
			if !c.wantRefresh && err == nil {
				t.Fatal("a rejected token without a refresh grant must be an error")
			}
			if c.wantRefresh && err != nil {
				t.Fatal(err)
			}
		})
	}
}
