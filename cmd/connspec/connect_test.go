package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const canary = "canary-CLI-5ec7e7"

// apiServer accepts Bearer <token> where token is "fresh", and issues it
// from POST /token.
func apiServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			w.Write([]byte(`{"access_token":"fresh"}`))
		case r.Header.Get("Authorization") != "Bearer fresh":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"unauthorized"}`))
		case r.URL.Path == "/me":
			w.Header().Set("X-Request-Id", "req-1")
			w.Write([]byte(`{"id":"u1"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeConnector(t *testing.T, srv *httptest.Server) string {
	dir := t.TempDir()
	spec := strings.ReplaceAll(`name: Acme
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
        X-Client: {$var: connectorParameters.clientId}
  refreshCredentials:
    code: |
      export default async ({ apiClient }) => {
        const t = await apiClient.post('/token', {})
        return { access_token: t.access_token }
      }
  test:
    code: |
      export default async ({ apiClient }) => (await apiClient.get('/me')).id === 'u1'
`, "{{URL}}", srv.URL)
	p := filepath.Join(dir, "acme.yml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTestCommandRefreshesAndRewritesCredentials(t *testing.T) {
	srv := apiServer(t)
	spec := writeConnector(t, srv)
	creds := filepath.Join(t.TempDir(), "creds.json")
	os.WriteFile(creds, []byte(`{"access_token":"`+canary+`"}`), 0o644)
	code, out, errOut := runCLI(t, "test", spec, "--credentials", creds, "--param", "clientId=cli")
	if code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	data, _ := os.ReadFile(creds)
	var got map[string]any
	json.Unmarshal(data, &got)
	if got["access_token"] != "fresh" {
		t.Errorf("credentials file = %s", data)
	}
	if info, _ := os.Stat(creds); info.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", info.Mode().Perm())
	}
}

func TestTestCommandFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, "test", writeConnector(t, srv), "--input", "access_token="+canary)
	if code != 1 || !strings.HasPrefix(out, "failed:") || strings.Contains(out+errOut, canary) {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestRequestCommand(t *testing.T) {
	srv := apiServer(t)
	spec := writeConnector(t, srv)
	code, out, errOut := runCLI(t, "request", spec, "get", "/me", "--input", "access_token=fresh", "--include", "--verbose", "--param", "clientId="+canary)
	if code != 0 || !strings.Contains(out, "200 OK") || !strings.Contains(out, "X-Request-Id: req-1") || !strings.HasSuffix(strings.TrimSpace(out), `{"id":"u1"}`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "> GET "+srv.URL+"/me") || !strings.Contains(errOut, "Authorization: Bearer [REDACTED]") || strings.Contains(errOut, canary) || strings.Contains(errOut, "fresh") {
		t.Errorf("verbose output:\n%s", errOut)
	}
	code, _, _ = runCLI(t, "request", spec, "GET", "/missing", "--input", "access_token=fresh")
	if code != 1 {
		t.Errorf("404: exit %d", code)
	}
	code, _, errOut = runCLI(t, "request", spec, "GET", "https://elsewhere.example/steal", "--input", "access_token="+canary)
	if code != 1 || !strings.Contains(errOut, "refusing to send credentials") || strings.Contains(errOut, canary) {
		t.Errorf("other host: exit %d\n%s", code, errOut)
	}
	for _, args := range [][]string{
		{"request", spec, "GET"},
		{"request", "no-such-connector", "GET", "/"},
		{"request", spec, "GET", "/", "--input", "novalue"},
		{"request", spec, "GET", "/", "-H", "NoColon"},
		{"test", spec, "--credentials", "/does/not/exist.json"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestBundledConnectorByKey(t *testing.T) {
	code, _, errOut := runCLI(t, "test", "stripe", "--input", "apiKey=not-a-key-"+canary)
	if code != 1 || !strings.Contains(errOut, "apiKey") || strings.Contains(errOut, canary) {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestResolverCommand(t *testing.T) {
	srv := apiServer(t)
	spec := writeConnector(t, srv)
	dir := t.TempDir()
	script := filepath.Join(dir, "resolve.sh")
	// The resolver reads the request and answers per account.
	os.WriteFile(script, []byte(`#!/bin/sh
input=$(cat)
case "$input" in
  *'"id":"acct-good"'*) echo '{"type":"oauth","token":"fresh","additionalFields":{"team":"T1"}}' ;;
  *'"id":"acct-none"'*) echo 'null' ;;
  *) echo "no such account in the directory" >&2; exit 3 ;;
esac
`), 0o755)
	code, out, errOut := runCLI(t, "request", spec, "GET", "/me", "--account", "acct-good", "--resolver-cmd", script)
	if code != 0 || !strings.Contains(out, `"u1"`) {
		t.Fatalf("resolved: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "test", spec, "--account", "acct-none", "--resolver-cmd", script)
	if code != 1 || !strings.Contains(errOut, "auth could not be resolved for acme: resolver returned no credentials") {
		t.Errorf("unresolved: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "test", spec, "--account", "acct-x", "--resolver-cmd", script)
	if code != 1 || !strings.Contains(errOut, "resolver failed: resolver command exited with status 3: no such account in the directory") {
		t.Errorf("failing resolver: exit %d\n%s", code, errOut)
	}
}

// --input and --param text takes the type the connector's schemas give it
// (issue 13: isSandbox=true was refused as "must be of type boolean").
func TestFlagValuesTakeTheSchemaType(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]any{"path": r.URL.Path, "query": r.URL.RawQuery})
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	p := filepath.Join(dir, "typed.yml")
	os.WriteFile(p, []byte(strings.ReplaceAll(`name: Typed
parametersSchema:
  type: object
  properties: {pageSize: {type: integer}, scopes: {type: array, items: {type: string}}}
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {isSandbox: {type: boolean}, apiKey: {type: string}}
      required: [isSandbox, apiKey]
  makeApiClient:
    mapping:
      baseUri: {$case: {cases: [{filter: {$eval: {$var: connectionParameters.isSandbox}, is: true}, value: "{{URL}}/sandbox"}], default: "{{URL}}/live"}}
      query:
        size: {$var: connectorParameters.pageSize}
        scopes: {$var: connectorParameters.scopes}
        key: {$var: credentials.apiKey}
`, "{{URL}}", srv.URL)), 0o644)
	code, out, errOut := runCLI(t, "request", p, "GET", "/x", "--input", "isSandbox=true", "--input", "apiKey=12345", "--param", "pageSize=50", "--param", "scopes=read,write")
	if code != 0 || !strings.Contains(out, `"path":"/sandbox/x"`) || !strings.Contains(out, "size=50") || !strings.Contains(out, "scopes=read&scopes=write") || !strings.Contains(out, "key=12345") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "request", p, "GET", "/x", "--input", "isSandbox="+canary, "--input", "apiKey=k")
	if code != 2 || !strings.Contains(errOut, "--input isSandbox: must be true or false") || strings.Contains(errOut, canary) {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

// --connect-to points a connector's host at a local mock, so a real
// connector is exercised unchanged; a target off this machine needs
// --connect-to-remote.
func TestConnectToFlag(t *testing.T) {
	mock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"host": r.Host, "path": r.URL.Path, "auth": r.Header.Get("Authorization")})
	}))
	t.Cleanup(mock.Close)
	dir := t.TempDir()
	p := filepath.Join(dir, "real.yml")
	os.WriteFile(p, []byte(`name: Real
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: https://api.real-provider.test/v2
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.token}]}}
`), 0o644)
	code, out, errOut := runCLI(t, "request", p, "GET", "/me", "--input", "token=tok-1", "--connect-to", "api.real-provider.test="+mock.URL)
	if code != 0 || !strings.Contains(out, `"host":"api.real-provider.test"`) || !strings.Contains(out, `"path":"/v2/me"`) || !strings.Contains(out, `"auth":"Bearer tok-1"`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "request", p, "GET", "/me", "--input", "token=tok-1", "--connect-to", "api.real-provider.test=http://192.0.2.1:8080")
	if code != 2 || !strings.Contains(errOut, "not on this machine") {
		t.Errorf("remote target: exit %d\n%s", code, errOut)
	}
}
