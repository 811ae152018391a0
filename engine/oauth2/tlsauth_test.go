package oauth2

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTLSClientAuth: with RFC 8705 client authentication the token request
// carries client_id in the body and no secret anywhere; a client secret
// beside it, or no client id, is refused before anything is sent.
func TestTLSClientAuth(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got = append(got, r.Header.Get("Authorization")+"|"+r.PostForm.Encode())
		w.Write([]byte(`{"access_token":"at","token_type":"Bearer"}`))
	}))
	defer srv.Close()
	for _, loc := range []string{AuthTLSClientAuth, AuthSelfSignedTLSClientAuth} {
		got = nil
		cfg, err := ConfigFromMap(map[string]any{"clientId": "app-1", "tokenUri": srv.URL, "grantType": "client_credentials", "clientAuthLocation": loc})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if _, err := cfg.ClientCredentials(context.Background(), srv.Client()); err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if want := "|client_id=app-1&grant_type=client_credentials"; len(got) != 1 || got[0] != want {
			t.Errorf("%s: the token endpoint got %q, want %q", loc, got, want)
		}
		for name, c := range map[string]struct {
			m    map[string]any
			want string
		}{
			"client secret": {map[string]any{"clientId": "app-1", "clientSecret": "canary-secret-1", "tokenUri": srv.URL, "grantType": "client_credentials", "clientAuthLocation": loc}, "sends no client secret"},
			"no client id":  {map[string]any{"tokenUri": srv.URL, "grantType": "client_credentials", "clientAuthLocation": loc}, "needs clientId"},
		} {
			if _, err := ConfigFromMap(c.m); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "canary") {
				t.Errorf("%s, %s: %v, want an error with %q", loc, name, err, c.want)
			}
		}
	}
	if len(got) != 1 {
		t.Errorf("requests: %q", got)
	}
}
