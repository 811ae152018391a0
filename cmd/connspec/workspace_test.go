package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const workspaceCanary = "ws-secret-canary-8d1e"

// workspaceAPI accepts only X-Integration-App-Token tokens signed with
// workspaceCanary for workspace ws-1 and answers with the token's subject,
// as the integration-app-token page describes the token
// (console.integration.app/docs/connector-builder/authentication/types/integration-app-token,
// "Configuration": iss is the workspace key, sub the user, signed with the
// workspace secret).
func workspaceAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var claims jwt.MapClaims
		_, err := jwt.ParseWithClaims(r.Header.Get("X-Integration-App-Token"), &claims, func(*jwt.Token) (any, error) { return []byte(workspaceCanary), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("ws-1"), jwt.WithExpirationRequired())
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"sub":"` + claims["sub"].(string) + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeAppTokenConnector writes an integration-app-token connector for srv
// and a file holding the workspace secret; it returns both paths.
func writeAppTokenConnector(t *testing.T, srv *httptest.Server) (connector, secretFile string) {
	dir := t.TempDir()
	connector = filepath.Join(dir, "apptoken.yml")
	src := `name: App token
key: apptoken
auth:
  type: integration-app-token
  makeApiClient:
    mapping: {baseUri: "` + srv.URL + `"}
  test:
    implementationType: rest-api-mapping
    mapping: {path: /whoami, method: GET}
`
	if err := os.WriteFile(connector, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	secretFile = filepath.Join(dir, "workspace.secret")
	if err := os.WriteFile(secretFile, []byte(workspaceCanary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return connector, secretFile
}

// unsetWorkspaceEnv keeps the developer's own workspace out of a test.
func unsetWorkspaceEnv(t *testing.T) {
	t.Setenv(envWorkspaceKey, "")
	t.Setenv(envWorkspaceSecret, "")
}

// The CLI runs integration-app-token connectors with the workspace given by
// flags (the secret from a file) or by the environment.
func TestCLIRunsIntegrationAppTokenConnectors(t *testing.T) {
	srv := workspaceAPI(t)
	connector, secretFile := writeAppTokenConnector(t, srv)
	check := func(t *testing.T, out, errOut string) {
		t.Helper()
		for _, s := range []string{out, errOut} {
			if strings.Contains(s, workspaceCanary) || strings.Contains(s, "eyJ") {
				t.Errorf("the workspace secret or a minted token was printed:\n%s", s)
			}
		}
	}
	t.Run("request with flags", func(t *testing.T) {
		unsetWorkspaceEnv(t)
		code, out, errOut := runCLI(t, "request", connector, "GET", "/whoami", "--account", "cust-42",
			"--workspace-key", "ws-1", "--workspace-secret-file", secretFile, "--verbose")
		if code != 0 || !strings.Contains(out, `"sub":"cust-42"`) {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		check(t, out, errOut)
		if !strings.Contains(errOut, "X-Integration-App-Token: [REDACTED]") {
			t.Errorf("the verbose output does not show the token header redacted:\n%s", errOut)
		}
	})
	t.Run("test with the environment", func(t *testing.T) {
		t.Setenv(envWorkspaceKey, "ws-1")
		t.Setenv(envWorkspaceSecret, workspaceCanary)
		code, out, errOut := runCLI(t, "test", connector, "--account", "cust-42")
		if code != 0 || strings.TrimSpace(out) != "ok" {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		check(t, out, errOut)
	})
	t.Run("test with the wrong secret fails", func(t *testing.T) {
		t.Setenv(envWorkspaceKey, "ws-1")
		t.Setenv(envWorkspaceSecret, "not-the-secret")
		code, out, errOut := runCLI(t, "test", connector, "--account", "cust-42")
		if code != 1 || !strings.Contains(out, "failed") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("connect", func(t *testing.T) {
		unsetWorkspaceEnv(t)
		code, out, errOut := runCLI(t, "connect", connector, "--account", "cust-42", "--no-browser",
			"--workspace-key", "ws-1", "--workspace-secret-file", secretFile, "--out", filepath.Join(t.TempDir(), "creds.json"))
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		check(t, out, errOut)
	})
}

// A connector that needs the workspace, run without it (or without an
// account), is refused before anything is sent, naming every flag and
// variable that gives it.
func TestCLIRefusesIntegrationAppTokenWithoutWorkspace(t *testing.T) {
	srv := workspaceAPI(t)
	connector, secretFile := writeAppTokenConnector(t, srv)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"nothing given", nil, []string{"test", connector, "--account", "a"},
			[]string{"apptoken", "integration-app-token", "--workspace-key", envWorkspaceKey, "--workspace-secret-file", envWorkspaceSecret}},
		{"request, nothing given", nil, []string{"request", connector, "GET", "/whoami", "--account", "a"},
			[]string{"--workspace-key", envWorkspaceKey, "--workspace-secret-file", envWorkspaceSecret}},
		{"connect, nothing given", nil, []string{"connect", connector, "--account", "a", "--no-browser"},
			[]string{"--workspace-key", envWorkspaceKey, "--workspace-secret-file", envWorkspaceSecret}},
		{"key without secret", nil, []string{"test", connector, "--account", "a", "--workspace-key", "ws-1"},
			[]string{"without its secret", "--workspace-secret-file", envWorkspaceSecret}},
		{"secret without key", map[string]string{envWorkspaceSecret: workspaceCanary}, []string{"test", connector, "--account", "a"},
			[]string{"without its key", "--workspace-key", envWorkspaceKey}},
		{"secret file missing", nil, []string{"test", connector, "--account", "a", "--workspace-key", "ws-1", "--workspace-secret-file", secretFile + ".missing"},
			[]string{"--workspace-secret-file", "no such file"}},
		{"no account", nil, []string{"test", connector, "--workspace-key", "ws-1", "--workspace-secret-file", secretFile},
			[]string{"--account", "apptoken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetWorkspaceEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runCLI(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (usage)\n%s%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("the error does not name %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(out+errOut, workspaceCanary) {
				t.Errorf("the secret was printed:\n%s%s", out, errOut)
			}
		})
	}
}

// serve refuses to start with an integration-app-token connector and no
// workspace (every connection of it would fail), and with one it proxies
// the connector's requests with a token minted for the connection's account.
func TestServeIntegrationAppTokenConnectors(t *testing.T) {
	srv := workspaceAPI(t)
	connector, secretFile := writeAppTokenConnector(t, srv)
	dir := filepath.Dir(connector)
	os.Remove(secretFile) // the connectors folder holds connectors only
	secretFile = filepath.Join(t.TempDir(), "workspace.secret")
	os.WriteFile(secretFile, []byte(workspaceCanary), 0o600)
	unsetWorkspaceEnv(t)
	t.Setenv("CONNSPEC_API_KEY", "serve-admin-key")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	flags := serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + filepath.Join(t.TempDir(), "c.db"), connectorsDir: dir,
		logFormat: "json", logLevel: "info", shutdownTimeout: 5 * time.Second}

	err := runServe(context.Background(), flags, &lockedBuffer{}, func(string) { t.Error("serve started without a workspace") })
	if err == nil || !strings.Contains(err.Error(), "--workspace-key") || !strings.Contains(err.Error(), envWorkspaceSecret) {
		t.Fatalf("serve without a workspace: %v", err)
	}

	flags.workspace = workspaceFlags{key: "ws-1", secretFile: secretFile}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, flags, logs, func(a string) { addrc <- a }) }()
	t.Cleanup(func() { cancel(); <-done })
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer serve-admin-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	status, body := call("POST", "/v1/connections", `{"connector":"apptoken","account":"cust-7"}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var conn struct{ ID string }
	if err := json.Unmarshal([]byte(body), &conn); err != nil || conn.ID == "" {
		t.Fatalf("create answered %s", body)
	}
	status, body = call("GET", "/v1/proxy/"+conn.ID+"/whoami", "")
	if status != 200 || !strings.Contains(body, `"sub":"cust-7"`) {
		t.Errorf("proxy: %d %s", status, body)
	}
	if strings.Contains(logs.String(), workspaceCanary) {
		t.Errorf("the secret reached the logs:\n%s", logs)
	}
}
