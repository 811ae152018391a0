package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

// TestConnectOktaFromDomainOnly: `connspec connect okta --input
// domain=...` with --connect-to sending the Okta domain to a loopback
// stand-in for the tenant: the org authorization server's metadata is
// discovered there, the printed URL opens its authorize endpoint, and the
// command stores credentials after the API test passes.
func TestConnectOktaFromDomainOnly(t *testing.T) {
	const domain = "dev-123456.okta.com"
	srv := oauthtest.New(t, oauthtest.Options{RequirePKCE: true})
	up, _ := url.Parse(srv.URL)
	routes := map[string]string{"/oauth2/v1/authorize": "/authorize", "/oauth2/v1/token": "/token", "/api/v1/users/me": "/api/me"}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(up)
		pr.Out.URL.Path = routes[pr.In.URL.Path]
	}}
	tenant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-authorization-server" {
			issuer := "https://" + domain
			json.NewEncoder(w).Encode(map[string]any{
				"issuer":                                issuer,
				"authorization_endpoint":                issuer + "/oauth2/v1/authorize",
				"token_endpoint":                        issuer + "/oauth2/v1/token",
				"code_challenge_methods_supported":      []string{"S256"},
				"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
			})
			return
		}
		if _, ok := routes[r.URL.Path]; ok {
			rp.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(tenant.Close)

	out := filepath.Join(t.TempDir(), "creds.json")
	c := &connectRun{srv: srv, out: out, stderr: &syncBuffer{}, done: make(chan int, 1)}
	pr, pw := io.Pipe()
	go func() {
		c.done <- run([]string{"connect", "okta", "--no-browser", "--out", out, "--timeout", "30s",
			"--param", "clientId=client-1", "--param", "clientSecret=secret-1",
			"--input", "domain=" + domain, "--connect-to", domain + "=" + tenant.URL}, pw, c.stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v (%s)", err, c.stderr.String())
	}
	go io.Copy(io.Discard, pr)
	c.url = strings.TrimSpace(line)
	if !strings.HasPrefix(c.url, tenant.URL+"/oauth2/v1/authorize?") {
		t.Fatalf("printed %q, want the tenant's authorize endpoint", c.url)
	}
	resp, err := http.Get(srv.Authorize(t, c.url).String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := <-c.done; code != 0 || resp.StatusCode != http.StatusOK {
		t.Fatalf("exit %d, callback status %d\n%s", code, resp.StatusCode, c.stderr.String())
	}
	checkCredentialsFile(t, c)
}
