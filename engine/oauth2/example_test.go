package oauth2_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
)

// The whole authorization code flow: the authorize URL with PKCE, the
// callback, the code exchange and a refresh that was refused.
func Example() {
	// A stand-in token endpoint: codes are exchanged, refresh tokens are revoked.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("grant_type") == "refresh_token" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"Token has been revoked."}`)
			return
		}
		io.WriteString(w, `{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()

	cfg, err := oauth2.ConfigFromMap(map[string]any{
		"clientId":     "my-client",
		"clientSecret": "my-secret",
		"authorizeUri": "https://accounts.example.com/o/oauth2/auth",
		"tokenUri":     srv.URL + "/token",
		"scopes":       []any{"email", "profile"},
		"extra":        map[string]any{"access_type": "offline"},
	})
	if err != nil {
		panic(err)
	}

	// Fixed values so the output is stable; use NewState and NewVerifier.
	state, verifier := "af0ifjsldkj", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	authURL, err := cfg.AuthorizationURL("https://app.example.com/callback", state, verifier)
	if err != nil {
		panic(err)
	}
	fmt.Println(authURL)

	// The provider redirects back to the callback with code and state.
	code, err := oauth2.ParseCallback(url.Values{"code": {"abc"}, "state": {state}}, state)
	if err != nil {
		panic(err)
	}
	tok, err := cfg.Exchange(context.Background(), nil, code, "https://app.example.com/callback", verifier)
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.AccessToken, tok.RefreshToken, !tok.Expired(time.Now(), cfg.RefreshMargin))

	_, err = cfg.Refresh(context.Background(), nil, tok.RefreshToken)
	fmt.Println(errors.Is(err, oauth2.ErrInvalidGrant))
	fmt.Println(err)
	// Output:
	// https://accounts.example.com/o/oauth2/auth?access_type=offline&client_id=my-client&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&response_type=code&scope=email+profile&state=af0ifjsldkj
	// at-1 rt-1 true
	// true
	// oauth2: token endpoint returned HTTP 400: invalid_grant: Token has been revoked.
}
