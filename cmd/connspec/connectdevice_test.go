package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const cliDeviceCanary = "canary-cli-device-code-9d1"

// deviceProvider is RFC 8628's server side: /device issues the codes (1 s
// interval), /token answers the first poll authorization_pending and then
// final, /api/me wants the issued token.
func deviceProvider(t *testing.T, final string) (*httptest.Server, *atomic.Int32) {
	var polls atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/device":
			if r.PostForm.Get("client_id") != "client-1" {
				w.WriteHeader(401)
				return
			}
			fmt.Fprintf(w, `{"device_code":%q,"user_code":"QXKZ-WMTR","verification_uri":"%s/activate","verification_uri_complete":"%s/activate?code=QXKZ-WMTR","expires_in":300,"interval":1}`, cliDeviceCanary, srv.URL, srv.URL)
		case "/token":
			if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" || r.PostForm.Get("device_code") != cliDeviceCanary {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			if polls.Add(1) == 1 || final != "ok" {
				step := map[bool]string{true: "authorization_pending", false: final}[polls.Load() == 1]
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":%q,"error_description":"device_code=%s"}`, step, cliDeviceCanary)
				return
			}
			fmt.Fprint(w, `{"access_token":"cli-device-at","refresh_token":"cli-device-rt","token_type":"Bearer","expires_in":3600}`)
		case "/api/me":
			if r.Header.Get("Authorization") != "Bearer cli-device-at" {
				w.WriteHeader(401)
				return
			}
			fmt.Fprint(w, `{"user":"user-1"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &polls
}

func runConnectDevice(t *testing.T, final string, extra ...string) (code int, stdout, stderr, out string) {
	srv, _ := deviceProvider(t, final)
	dir := t.TempDir()
	spec := filepath.Join(dir, "acme.yml")
	src := strings.NewReplacer("authorizeUri: {{AUTH}}", "deviceAuthorizationUri: "+srv.URL+"/device", "{{TOKEN}}", srv.URL+"/token", "{{URL}}", srv.URL).Replace(connectSpec)
	os.WriteFile(spec, []byte(src), 0o644)
	out = filepath.Join(dir, "creds.json")
	var so, se syncBuffer
	code = run(append([]string{"connect", spec, "--device", "--out", out, "--timeout", "30s",
		"--param", "clientId=client-1", "--param", "clientSecret=secret-1"}, extra...), &so, &se)
	return code, so.String(), se.String(), out
}

// TestConnectDevice runs `connspec connect --device` against a device
// provider: the user code and URIs are shown, the device code never, and
// the credentials are written and tested like the browser flow's.
func TestConnectDevice(t *testing.T) {
	code, stdout, stderr, out := runConnectDevice(t, "ok", "--qr")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "QXKZ-WMTR") || !strings.Contains(stderr, "/activate") || !strings.Contains(stderr, "/activate?code=QXKZ-WMTR") {
		t.Errorf("stderr does not show the code and URIs:\n%s", stderr)
	}
	if !strings.Contains(stderr, "▀") || !strings.Contains(stderr, "█") {
		t.Errorf("--qr drew no QR code:\n%s", stderr)
	}
	for _, secret := range []string{cliDeviceCanary, "secret-1"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("output shows %q:\n%s%s", secret, stdout, stderr)
		}
	}
	data, _ := os.ReadFile(out)
	var creds map[string]any
	if json.Unmarshal(data, &creds) != nil || creds["access_token"] != "cli-device-at" || creds["refresh_token"] != "cli-device-rt" {
		t.Errorf("credentials file: %s", data)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", info, err)
	}
}

func TestConnectDeviceDenied(t *testing.T) {
	code, stdout, stderr, out := runConnectDevice(t, "access_denied")
	if code != 1 || !strings.Contains(stderr, "denied") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, cliDeviceCanary) {
		t.Errorf("output shows the device code:\n%s%s", stdout, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("credentials written after a refusal")
	}
	if strings.Contains(stderr, "█") {
		t.Error("a QR code was drawn without --qr on a stderr that is no terminal")
	}
}
