package spec

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/connspec/connspec/internal/clientauth"
	"github.com/connspec/connspec/schemas"
)

// clientAuthSpec is an oauth2 connector whose getOAuthConfig mapping ends
// with extra (lines 9 onwards, indented four spaces).
func clientAuthSpec(extra string) fstest.MapFS {
	return fstest.MapFS{"c.yml": file("key: c\nname: C\nauth:\n  type: oauth2\n  makeApiClient:\n    mapping: {baseUri: https://a.example}\n" +
		"  getOAuthConfig:\n    mapping:\n" +
		"      clientId: {$var: connectorParameters.clientId}\n      tokenUri: https://a.example/token\n      authorizeUri: https://a.example/auth\n" +
		extra)}
}

// TestClientAssertionKeysLoad: the keys of client authentication by
// assertion are getOAuthConfig keys, not unknown ones, with the locations
// that use them, whether written literally or computed.
func TestClientAssertionKeysLoad(t *testing.T) {
	for name, extra := range map[string]string{
		"private_key_jwt": "      clientAuthLocation: private_key_jwt\n      clientPrivateKey: {$var: connectorParameters.key}\n" +
			"      clientKeyId: k1\n      clientAssertionAlg: ES256\n      clientAssertionAudience: https://a.example\n",
		"client_secret_jwt":    "      clientAuthLocation: client_secret_jwt\n      clientSecret: {$var: connectorParameters.s}\n      clientAssertionAlg: HS512\n",
		"location by formula":  "      clientAuthLocation: {$var: connectorParameters.loc}\n      clientPrivateKey: {$var: connectorParameters.key}\n",
		"no assertion keys":    "      clientAuthLocation: body\n      clientSecret: s\n",
		"default location":     "      clientSecret: s\n",
		"every plain location": "      clientAuthLocation: headers\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := Load(clientAuthSpec(extra), "c.yml")
			if len(diags) != 0 {
				t.Errorf("diagnostics:\n%s", diags.Error())
			}
		})
	}
}

// TestClientAuthLocationRefused: an unknown literal clientAuthLocation, and
// a key that the location would leave unused, are errors at their line and
// column, not a connector that sends the secret instead of the assertion.
func TestClientAuthLocationRefused(t *testing.T) {
	for name, c := range map[string]struct{ extra, want string }{
		"unknown location": {"      clientAuthLocation: private_key_jw\n",
			`c.yml:12:27: error: getOAuthConfig: clientAuthLocation "private_key_jw" is not one of headers, body, both, private_key_jwt, client_secret_jwt`},
		"key beside body": {"      clientAuthLocation: body\n      clientPrivateKey: {$var: connectorParameters.key}\n",
			"c.yml:13:7: error: getOAuthConfig: clientPrivateKey is only used with clientAuthLocation private_key_jwt, not body"},
		"key with the default location": {"      clientAssertionAudience: https://a.example\n",
			"c.yml:12:7: error: getOAuthConfig: clientAssertionAudience is only used with clientAuthLocation private_key_jwt or client_secret_jwt, not both (the default)"},
		"private key with client_secret_jwt": {"      clientAuthLocation: client_secret_jwt\n      clientKeyId: k1\n",
			"c.yml:13:7: error: getOAuthConfig: clientKeyId is only used with clientAuthLocation private_key_jwt, not client_secret_jwt"},
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := Load(clientAuthSpec(c.extra), "c.yml")
			wantDiags(t, diags, c.want)
			if !diags.HasErrors() {
				t.Error("not an error")
			}
		})
	}
}

// TestClientAuthLocationsListed: every location and location-bound key
// the check knows is named in the JSON Schema's getOAuthConfig description,
// so the editor hover and the check agree.
func TestClientAuthLocationsListed(t *testing.T) {
	text := string(schemas.Connector)
	for _, word := range append(slices.Clone(clientauth.Locations), slices.Collect(maps.Keys(clientauth.KeyLocations))...) {
		if !strings.Contains(text, word) {
			t.Errorf("the JSON Schema does not name %s", word)
		}
	}
}
