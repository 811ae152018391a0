package spec

import (
	"strings"
	"testing"
	"testing/fstest"
)

func txSpec(grant, extra string) fstest.MapFS {
	return fstest.MapFS{"c.yml": file("key: c\nname: C\nauth:\n  type: oauth2\n  makeApiClient:\n    mapping: {baseUri: https://a.example}\n" +
		"  getOAuthConfig:\n    mapping:\n" +
		"      grantType: " + grant + "\n      tokenUri: https://sts.example/token\n" + extra)}
}

// TestTokenExchangeKeysLoad: the RFC 8693 keys are getOAuthConfig keys.
func TestTokenExchangeKeysLoad(t *testing.T) {
	extra := "      subjectToken: {$var: connectionParameters.idToken}\n      subjectTokenType: urn:ietf:params:oauth:token-type:id_token\n" +
		"      actorToken: {$var: connectorParameters.actor}\n      actorTokenType: urn:ietf:params:oauth:token-type:jwt\n" +
		"      audience: api\n      resource: https://api.example\n      requestedTokenType: urn:ietf:params:oauth:token-type:access_token\n"
	if _, diags := Load(txSpec("urn:ietf:params:oauth:grant-type:token-exchange", extra), "c.yml"); len(diags) != 0 {
		t.Errorf("diagnostics:\n%s", diags.Error())
	}
}

// TestGrantTypeLiteralChecked: a literal grantType the engine does not run
// is a load error at its position, the short token_exchange among them.
func TestGrantTypeLiteralChecked(t *testing.T) {
	for _, g := range []string{"token_exchange", "password", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
		_, diags := Load(txSpec(g, ""), "c.yml")
		if want := `c.yml:9:18: error: getOAuthConfig grantType "` + g + `" is not supported`; !strings.Contains(diags.Error(), want) {
			t.Errorf("want %q in:\n%s", want, diags.Error())
		}
	}
	for _, g := range []string{"client_credentials", "authorization_code", "{$var: connectorParameters.grant}"} {
		if _, diags := Load(txSpec(g, "      authorizeUri: https://sts.example/a\n"), "c.yml"); len(diags) != 0 {
			t.Errorf("%s: diagnostics:\n%s", g, diags.Error())
		}
	}
}
