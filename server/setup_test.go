package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

// twoWayConnector offers an OAuth option that needs the developer's OAuth
// app (clientId, clientSecret) and an API-key option that needs nothing of
// the developer but a partner id of its own.
func twoWayConnector(srv *oauthtest.Server) string {
	return strings.NewReplacer("{{AUTH}}", srv.AuthorizeURL, "{{TOKEN}}", srv.TokenURL, "{{URL}}", srv.URL).Replace(`key: twoway
name: Two Way
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string, format: password}, partnerId: {type: string}}
  required: [clientId, clientSecret]
auth:
  options:
    oauth:
      type: oauth2
      getOAuthConfig:
        mapping:
          clientId: {$var: connectorParameters.clientId}
          clientSecret: {$var: connectorParameters.clientSecret}
          authorizeUri: {{AUTH}}
          tokenUri: {{TOKEN}}
      makeApiClient:
        mapping: {baseUri: {{URL}}}
    key:
      type: client-credentials
      parametersSchema:
        type: object
        properties: {partnerId: {type: string}}
        required: [partnerId]
      ui:
        schema:
          type: object
          properties: {apiKey: {type: string}}
      makeApiClient:
        mapping: {baseUri: {{URL}}}
`)
}

// requiredOAuthConnector is oauthConnector with its parameters required.
func requiredOAuthConnector(srv *oauthtest.Server) string {
	return strings.Replace(oauthConnector(srv), "  properties: {clientId", "  required: [clientId, clientSecret]\n  properties: {clientId", 1)
}

func TestConnectSessionsForUnconfiguredConnectorsAreRefusedNamingTheParameter(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	cases := []struct {
		name      string
		connector string
		params    map[string]any
		option    string
		want      int
		missing   []string // named in the answer
	}{
		{"no parameters at all", requiredOAuthConnector(srv), nil, "", http.StatusConflict, []string{"clientId", "clientSecret"}},
		{"an empty clientId", requiredOAuthConnector(srv), map[string]any{"clientId": "", "clientSecret": canaryClientSecret}, "", http.StatusConflict, []string{"clientId"}},
		{"a null clientSecret", requiredOAuthConnector(srv), map[string]any{"clientId": "client-1", "clientSecret": nil}, "", http.StatusConflict, []string{"clientSecret"}},
		{"configured", requiredOAuthConnector(srv), map[string]any{"clientId": "client-1", "clientSecret": canaryClientSecret}, "", http.StatusCreated, nil},
		{"the OAuth option without its app", twoWayConnector(srv), map[string]any{"partnerId": "p-1"}, "oauth", http.StatusConflict, []string{"clientId", "clientSecret"}},
		{"the key option needs no OAuth app", twoWayConnector(srv), map[string]any{"partnerId": "p-1"}, "key", http.StatusCreated, nil},
		{"the key option without its own parameter", twoWayConnector(srv), map[string]any{"clientId": "c", "clientSecret": canaryClientSecret}, "key", http.StatusConflict, []string{"partnerId"}},
		{"no option: one way still works", twoWayConnector(srv), map[string]any{"partnerId": "p-1"}, "", http.StatusCreated, nil},
		{"no option: no way works", twoWayConnector(srv), nil, "", http.StatusConflict, []string{"clientId"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "oauthy"
			if strings.HasPrefix(tc.connector, "key: twoway") {
				key = "twoway"
			}
			var params map[string]map[string]any
			if tc.params != nil {
				params = map[string]map[string]any{key: tc.params}
			}
			e := newEnv(t, envOptions{connectors: map[string]string{key: tc.connector}, params: params})
			body := map[string]any{"connector": key, "account": "acc-1"}
			if tc.option != "" {
				body["option"] = tc.option
			}
			status, data := e.api("POST", "/v1/connect-sessions", body)
			if status != tc.want {
				t.Fatalf("connect session: %d %s, want %d", status, data, tc.want)
			}
			var answer struct{ Error, Message string }
			json.Unmarshal(data, &answer)
			for _, name := range tc.missing {
				if answer.Error != "connector_not_configured" || !strings.Contains(answer.Message, name) || !strings.Contains(answer.Message, "--params-file") {
					t.Errorf("the answer does not name %s: %s", name, data)
				}
			}
			e.assertNoCanaries(string(data))
		})
	}
}

func TestServeWarnsAtStartAboutUnconfiguredConnectors(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": requiredOAuthConnector(srv), "twoway": twoWayConnector(srv)},
		params: map[string]map[string]any{"oauthy": {"clientId": "client-1", "clientSecret": canaryClientSecret}, "twoway": {"clientSecret": canaryClientSecret}}})
	var warned []map[string]any
	for line := range strings.Lines(e.logs.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && strings.Contains(str(rec["msg"]), "not configured") {
			warned = append(warned, rec)
		}
	}
	want := map[string]string{"twoway/oauth": "clientId", "twoway/key": "partnerId"}
	if len(warned) != len(want) {
		t.Fatalf("want %d warnings, got %v", len(want), warned)
	}
	for _, rec := range warned {
		k := str(rec["connector"]) + "/" + str(rec["option"])
		if rec["level"] != "WARN" || want[k] == "" || rec["missing"] != want[k] {
			t.Errorf("warning %v, want missing %q for %s", rec, want[k], k)
		}
	}
	e.assertNoCanaries()
}

func TestConnectPageSaysAnUnconfiguredOptionIsNotSetUp(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret})
	e := newEnv(t, envOptions{connectors: map[string]string{"twoway": twoWayConnector(srv)}, params: map[string]map[string]any{"twoway": {"partnerId": "p-1"}}})
	link := e.connectLink(map[string]any{"connector": "twoway", "account": "acc-1"})
	c := browserLike(t)
	resp, page := fetch(t, c, "POST", link+"?option=oauth", url.Values{"option": {"oauth"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "not set up yet") || strings.Contains(page, "Could not start signing in") {
		t.Fatalf("choosing the unconfigured option: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "clientId") {
		t.Errorf("the end user's page names the developer's parameter:\n%s", page)
	}
}

func str(v any) string { s, _ := v.(string); return s }
