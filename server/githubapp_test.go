package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ghAppConnector has a github-app block per way to name the installation:
// from installing the app (the base block, appSlug), or typed by the user
// (option app-installation).
const ghAppConnector = `name: GH App
key: ghapp
auth:
  type: github-app
  getGitHubAppConfig:
    mapping:
      appId: {$var: connectorParameters.appId}
      privateKey: {$var: connectorParameters.privateKey}
      appSlug: octo-app
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      apiBase: https://ghe.example.com/api/v3
  makeApiClient:
    mapping:
      baseUri: https://ghe.example.com/api/v3
  options:
    app-installation:
      type: github-app
      getGitHubAppConfig:
        mapping:
          appId: {$var: connectorParameters.appId}
          privateKey: {$var: connectorParameters.privateKey}
          installationId: {$var: connectionInput.installationId}
          apiBase: https://ghe.example.com/api/v3
      ui:
        schema:
          type: object
          properties: {installationId: {type: string, title: Installation ID}}
          required: [installationId]
`

// TestGitHubAppInstallConnectPage: the install-flow option's connect page
// sends the user to the app's install page (no installation id field); the
// option with a typed installation keeps its form.
func TestGitHubAppInstallConnectPage(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	params := map[string]map[string]any{"ghapp": {"appId": "1", "privateKey": pemText, "clientId": "Iv1.x", "clientSecret": canaryClientSecret}}
	e := newEnv(t, envOptions{connectors: map[string]string{"ghapp": ghAppConnector}, params: params})

	link := e.connectLink(map[string]any{"connector": "ghapp", "account": "acc-g"})
	c := browserLike(t)
	_, page := fetch(t, c, "GET", link, nil)
	if !strings.Contains(page, "Continue to GH App") || strings.Contains(page, `name="f_installationId"`) {
		t.Fatalf("the install option's page is not a redirect without the installation field:\n%s", page)
	}
	resp, body := fetch(t, c, "POST", link, url.Values{"option": {""}})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Host != "ghe.example.com" || loc.Path != "/github-apps/octo-app/installations/new" || loc.Query().Get("state") == "" {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	link = e.connectLink(map[string]any{"connector": "ghapp", "account": "acc-g", "option": "app-installation"})
	_, typed := fetch(t, browserLike(t), "GET", link, nil)
	if strings.Contains(typed, "Continue to GH App") || !strings.Contains(typed, `name="f_installationId"`) {
		t.Errorf("the typed-installation option lost its form:\n%s", typed)
	}
	e.assertNoCanaries(page, body, typed, resp.Header.Get("Location"))
}
