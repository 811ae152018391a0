package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/connspec/connspec/internal/oauthtest"
)

// inputCheck is one method and the variables it must receive. A want value
// of "*" means "present and not empty", "fn" an apiClient (an object with a
// get function); an object is compared key by key; anything else exactly.
type inputCheck struct {
	method, doc string
	want        map[string]any
	// result is the JavaScript expression the method returns.
	result string
	// authorizeOnly: the inputs are checked on the calls of the
	// authorization (those with a state); the method also builds the
	// client's refresh configuration, where there is no redirect or state.
	authorizeOnly bool
}

// methodInputChecks lists every documented input of every method; each row
// names the page and section it follows.
func methodInputChecks(apiURL, authURL, tokenURL string) []inputCheck {
	input := map[string]any{"region": "eu"}
	params := map[string]any{"clientId": "client-1"}
	return []inputCheck{
		{method: "getOAuthConfig", doc: "docs.getmembrane.com/reference/workspace-elements/connectors/connector-types/oauth2, getOAuthConfig \"Arguments\"",
			want:          map[string]any{"connectorParameters": params, "connectionInput": input, "connectionParameters": input, "redirectUri": redirectURI, "state": "*"},
			result:        `({ clientId: input.connectorParameters.clientId, clientSecret: input.connectorParameters.clientSecret, authorizeUri: '` + authURL + `', tokenUri: '` + tokenURL + `' })`,
			authorizeOnly: true},
		{method: "getTokenData", doc: "console.integration.app/docs/connector-builder/authentication/types/oauth2, \"getTokenData\" (issue 13: codeVerifier, queryParameters, redirectUri)",
			want:   map[string]any{"connectorParameters": params, "connectionInput": input, "codeVerifier": "*", "queryParameters": map[string]any{"code": "*"}, "redirectUri": redirectURI},
			result: `({ access_token: 'at-1', refresh_token: 'rt-1', token_type: 'Bearer', expires_in: 3600 })`},
		{method: "getCredentialsFromAccessTokenResponse", doc: "console.integration.app/docs/connector-builder/authentication/types/oauth2, \"Custom Credentials Extraction\"",
			want:   map[string]any{"tokenResponse": map[string]any{"access_token": "at-1"}, "connectorParameters": params, "connectionInput": input, "queryParameters": map[string]any{"code": "*"}},
			result: `({ access_token: input.tokenResponse.access_token, refresh_token: input.tokenResponse.refresh_token })`},
		{method: "makeApiClient", doc: "docs.integration.app/docs/make-api-client, \"Input\" (issue 13: connectionInput)",
			want:   map[string]any{"credentials": map[string]any{"access_token": "*"}, "connectorParameters": params, "connectionInput": input, "connectionParameters": input},
			result: `({ baseUri: '` + apiURL + `', headers: { Authorization: 'Bearer ' + input.credentials.access_token } })`},
		{method: "refreshCredentials", doc: "docs.getmembrane.com/docs/refresh-credentials, \"Input\" (issue 13: connectionInput)",
			want:   map[string]any{"credentials": map[string]any{"refresh_token": "rt-1"}, "connectorParameters": params, "connectionInput": input, "apiClient": "fn"},
			result: `({ access_token: 'at-2' })`},
		{method: "test", doc: "docs.integration.app/docs/test, \"Input\" (issue 13: connectionInput)",
			want:   map[string]any{"credentials": map[string]any{"access_token": "at-2"}, "connectorParameters": params, "connectionInput": input, "apiClient": "fn"},
			result: `true`},
		{method: "disconnect", doc: "docs.getmembrane.com/docs/disconnect, \"Input\" (issue 13: connectionInput)",
			want:   map[string]any{"credentials": map[string]any{"access_token": "at-2"}, "connectorParameters": params, "connectionInput": input, "apiClient": "fn"},
			result: `undefined`},
	}
}

// checkingMethod is a JavaScript method that throws naming every variable
// it did not receive as wanted, and logs "ran METHOD" when all were right.
func checkingMethod(c inputCheck) string {
	want, _ := json.Marshal(c.want)
	skip := ""
	if c.authorizeOnly {
		skip = "if (!input.state) return " + c.result + "\n  "
	}
	return `export default async function (input) {
  ` + skip + `const want = ` + string(want) + `
  const bad = []
  const check = (path, w, g) => {
    if (w === '*') { if (g === undefined || g === null || g === '') bad.push(path + ' missing') }
    else if (w === 'fn') { if (!g || typeof g.get !== 'function') bad.push(path + ' is not an api client') }
    else if (w && typeof w === 'object') { for (const k of Object.keys(w)) check(path + '.' + k, w[k], g ? g[k] : undefined) }
    else if (g !== w) bad.push(path + ' = ' + JSON.stringify(g))
  }
  for (const k of Object.keys(want)) check(k, want[k], input[k])
  if (bad.length) throw new Error('` + c.method + ` got wrong input: ' + bad.join(', '))
  console.log('ran ` + c.method + `')
  return ` + c.result + `
}
`
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Every documented input reaches each method: an OAuth 2.0 connector whose
// every method is JavaScript that checks what it received is run through
// authorization, a request answered 401 (refresh), test and disconnect.
func TestEveryDocumentedInputReachesEachMethod(t *testing.T) {
	oauth := oauthtest.New(t, oauthtest.Options{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-2" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	checks := methodInputChecks(api.URL, oauth.AuthorizeURL, oauth.TokenURL)
	var spec strings.Builder
	spec.WriteString("name: C\nkey: c\nauth:\n  type: oauth2\n")
	for _, c := range checks {
		spec.WriteString("  " + c.method + ":\n    implementationType: javascript\n    code: |\n")
		for line := range strings.Lines(checkingMethod(c)) {
			spec.WriteString("      " + line)
		}
	}
	logs := &syncBuffer{}
	e := New(WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(spec.String())}}, "c.yml"); diags.HasErrors() {
		t.Fatalf("connector does not load:\n%s", diags.Error())
	}

	ctx := context.Background()
	conn := Connection{Connector: "c", ConnectorParameters: map[string]any{"clientId": "client-1", "clientSecret": "secret-1"},
		ConnectionParameters: map[string]any{"region": "eu"}}
	conn.Credentials = authorizeConnection(t, e, oauth, conn)
	cl := mustClient(t, e, conn)
	if _, err := cl.Get(ctx, "/me"); err != nil {
		t.Fatalf("request (answered 401 first, then refreshed): %v", err)
	}
	if err := cl.Test(ctx); err != nil {
		t.Fatalf("test: %v", err)
	}
	if err := cl.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	for _, c := range checks {
		t.Run(c.method, func(t *testing.T) {
			// Follows c.doc.
			if !strings.Contains(logs.String(), "ran "+c.method) {
				t.Errorf("%s never ran with its documented inputs (%s); logs:\n%s", c.method, c.doc, logs)
			}
		})
	}
}

// The same for a client-credentials connector whose credentials are made
// from what the user typed.
func TestEveryDocumentedInputReachesCredentialsFromConnectionParameters(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer eu-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	input := map[string]any{"region": "eu"}
	params := map[string]any{"clientId": "client-1"}
	checks := []inputCheck{
		// docs.integration.app/docs/get-credentials-from-connection-parameters, "Input";
		// docs.getmembrane.com/docs/get-credentials-from-connection-parameters, "Input".
		{method: "getCredentialsFromConnectionParameters", want: map[string]any{"connectorParameters": params, "connectionInput": input, "connectionParameters": input},
			result: `({ token: input.connectionInput.region + '-token' })`},
		{method: "makeApiClient", want: map[string]any{"credentials": map[string]any{"token": "eu-token"}, "connectorParameters": params, "connectionInput": input},
			result: `({ baseUri: '` + api.URL + `', headers: { Authorization: 'Bearer ' + input.credentials.token } })`},
		{method: "test", want: map[string]any{"credentials": map[string]any{"token": "eu-token"}, "connectionInput": input, "apiClient": "fn"},
			result: `(await input.apiClient.get('/me')).ok`},
	}
	var src strings.Builder
	src.WriteString("name: C\nkey: c\nauth:\n  type: client-credentials\n")
	for _, c := range checks {
		src.WriteString("  " + c.method + ":\n    implementationType: javascript\n    code: |\n")
		for line := range strings.Lines(checkingMethod(c)) {
			src.WriteString("      " + line)
		}
	}
	logs := &syncBuffer{}
	e := New(WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src.String())}}, "c.yml"); diags.HasErrors() {
		t.Fatalf("connector does not load:\n%s", diags.Error())
	}
	cl := mustClient(t, e, Connection{Connector: "c", ConnectorParameters: map[string]any{"clientId": "client-1"}, ConnectionParameters: input})
	if err := cl.Test(context.Background()); err != nil {
		t.Fatalf("test: %v", err)
	}
	for _, c := range checks {
		if !strings.Contains(logs.String(), "ran "+c.method) {
			t.Errorf("%s never ran with its documented inputs; logs:\n%s", c.method, logs)
		}
	}
}
