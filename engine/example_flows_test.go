package engine_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
)

// loadExample registers connectors from YAML texts keyed by file name.
func loadExample(eng *engine.Engine, files map[string]string) bool {
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	for name := range files {
		if _, diags := eng.LoadFS(fsys, name); diags.HasErrors() {
			fmt.Println(diags)
			return false
		}
	}
	return true
}

// OAuth 2.0: AuthorizationURL starts the authorization code flow (with
// PKCE), CompleteAuthorization exchanges the code from the callback, and
// the client renews the token itself: here the API refuses the first access
// token, so the client refreshes once and replays the request.
func ExampleEngine_CompleteAuthorization() {
	var tokenRequests atomic.Int32
	provider := http.NewServeMux()
	provider.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch r.PostFormValue("grant_type") {
		case "authorization_code": // the code and the PKCE verifier from the flow
			if r.PostFormValue("code") != "code-1" || r.PostFormValue("code_verifier") == "" {
				http.Error(w, `{"error": "invalid_grant"}`, http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, `{"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "Bearer"}`)
		case "refresh_token":
			fmt.Fprint(w, `{"access_token": "at-2", "expires_in": 3600, "token_type": "Bearer"}`)
		}
	})
	provider.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-2" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"name": "Ada"}`)
	})
	srv := httptest.NewServer(provider)
	defer srv.Close()

	eng := engine.New()
	if !loadExample(eng, map[string]string{"acme.yml": `name: Acme
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: ` + srv.URL + `/authorize
      tokenUri: ` + srv.URL + `/token
  makeApiClient:
    mapping:
      baseUri: ` + srv.URL + `/api
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`}) {
		return
	}
	ctx := context.Background()
	conn := engine.Connection{
		ID:                  "acct-1-acme",
		Connector:           "acme",
		ConnectorParameters: map[string]any{"clientId": "client-1", "clientSecret": "secret-1"},
	}
	const redirectURI = "https://app.example.com/oauth/callback"
	req, err := eng.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		fmt.Println(err)
		return
	}
	authorize, _ := url.Parse(req.URL)
	fmt.Println("send the user to", authorize.Path, "with PKCE", authorize.Query().Get("code_challenge_method"))

	// The provider sends the user back to redirectURI with a code and the state.
	callback := url.Values{"code": {"code-1"}, "state": {req.State}}
	conn.Credentials, err = eng.CompleteAuthorization(ctx, conn, callback, redirectURI, req.State, req.Verifier)
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := eng.Client(ctx, conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	me, err := client.Get(ctx, "/me")
	fmt.Println(me, err)
	fmt.Println("token requests:", tokenRequests.Load())
	// Output:
	// send the user to /authorize with PKCE S256
	// map[name:Ada] <nil>
	// token requests: 2
}

// A store keeps each connection's credentials, sealed, under its ID: a
// second engine on the same SQLite file (another process, or this one after
// a restart) connects with the ID alone, and renewals are written back.
func ExampleWithStore() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"auth": %q}`, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	connector := map[string]string{"acme.yml": `name: Acme
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: app, authorizeUri: https://acme.example/authorize, tokenUri: https://acme.example/token}
  makeApiClient:
    mapping:
      baseUri: ` + api.URL + `
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`}
	dir, err := os.MkdirTemp("", "connspec-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// In production the key comes from a secret manager (or store.LoadKey).
	cipher, err := store.NewCipher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, conn := range []engine.Connection{
		// First: the credentials CompleteAuthorization returned.
		{ID: "conn-1", Connector: "acme", Credentials: map[string]any{"access_token": "at-1", "refresh_token": "rt-1"}},
		// Later: the ID is enough.
		{ID: "conn-1", Connector: "acme"},
	} {
		db, err := store.OpenSQLite(filepath.Join(dir, "connspec.db"), cipher)
		if err != nil {
			fmt.Println(err)
			return
		}
		eng := engine.New(engine.WithStore(db))
		if !loadExample(eng, connector) {
			return
		}
		client, err := eng.Client(ctx, conn)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, err := client.Get(ctx, "/me")
		rec, _ := db.Get(ctx, "conn-1")
		fmt.Println(body, err, "stored version", rec.Version)
		db.Close()
	}
	// Output:
	// map[auth:Bearer at-1] <nil> stored version 1
	// map[auth:Bearer at-1] <nil> stored version 1
}

// An auth resolver supplies tokens the embedding application already holds
// ("bring your own auth"), per account; results are reused for their TTL.
func ExampleEngine_DefineAuthResolver() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"auth": %q}`, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	eng := engine.New()
	if !loadExample(eng, map[string]string{"chat.yml": `name: Chat
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: app, authorizeUri: https://chat.example/authorize, tokenUri: https://chat.example/token}
  makeApiClient:
    mapping:
      baseUri: ` + api.URL + `
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`}) {
		return
	}
	if err := eng.Integration("byo-chat", "chat"); err != nil {
		fmt.Println(err)
		return
	}
	var calls atomic.Int32
	eng.DefineAuthResolver("byo-chat", func(ctx context.Context, run engine.RunContext, in engine.IntegrationInfo) (*engine.AuthResult, error) {
		calls.Add(1)
		return &engine.AuthResult{Type: "oauth", Token: "token-of-" + run.Account.ID, TTL: 10 * time.Minute}, nil
	})
	ctx := context.Background()
	for range 2 {
		client, err := eng.Client(ctx, engine.Connection{Connector: "byo-chat", Account: &engine.Account{ID: "u-42"}})
		if err != nil {
			fmt.Println(err)
			return
		}
		body, err := client.Get(ctx, "/me")
		fmt.Println(body, err)
	}
	fmt.Println("resolver calls:", calls.Load())
	// Output:
	// map[auth:Bearer token-of-u-42] <nil>
	// map[auth:Bearer token-of-u-42] <nil>
	// resolver calls: 1
}

// A proxy connector rides on a connection of another connector (its
// proxyKey): it adds its own base URI and headers, and the base connection's
// credentials (and their refresh) do the rest.
func Example_proxy() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"path": %q, "auth": %q}`, r.URL.Path, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	eng := engine.New()
	if !loadExample(eng, map[string]string{
		"suite.yml": `name: Suite
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: ` + api.URL + `/suite
      auth: {username: {$var: connectionInput.user}, password: {$var: connectionInput.password}}
`,
		"sheets.yml": `name: Sheets
auth:
  type: proxy
  proxyKey: suite
  makeApiClient:
    mapping: {baseUri: "` + api.URL + `/sheets/v4"}
`}) {
		return
	}
	base := &engine.Connection{Connector: "suite", ConnectionParameters: map[string]any{"user": "ada", "password": "pw"}}
	client, err := eng.Client(context.Background(), engine.Connection{Connector: "sheets", Base: base})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := client.Get(context.Background(), "/spreadsheets/1")
	if err != nil {
		fmt.Println(err)
		return
	}
	auth := body.(map[string]any)["auth"].(string)
	user, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
	fmt.Println(body.(map[string]any)["path"], string(user))
	// Output:
	// /sheets/v4/spreadsheets/1 ada:pw
}
