package oauth2

import (
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/clientauth"
)

// TestConfigFromMapLocationKeys: every location-bound key beside every
// location either works or is refused naming the key, never ignored; the
// check runs on what a method returned, so a computed location is covered.
func TestConfigFromMapLocationKeys(t *testing.T) {
	assertionKeys(t)
	values := map[string]any{
		"clientPrivateKey":        privatePEM(t, assertRSA),
		"clientKeyId":             "k1",
		"clientAssertionAlg":      "",
		"clientAssertionAudience": "https://issuer.example",
	}
	for key := range clientauth.KeyLocations {
		for _, loc := range append([]string{""}, clientauth.Locations...) {
			m := map[string]any{"clientId": "c", "clientSecret": strings.Repeat("s", 64), "tokenUri": "https://a.example/token",
				"grantType": "client_credentials", "clientAuthLocation": loc, key: values[key]}
			if loc == AuthPrivateKeyJWT {
				m["clientPrivateKey"] = values["clientPrivateKey"]
			}
			_, err := ConfigFromMap(m)
			allowed := clientauth.KeyAllowed(key, loc)
			switch {
			case allowed && err != nil:
				t.Errorf("%s with %q: %v", key, loc, err)
			case !allowed && (err == nil || !strings.Contains(err.Error(), key+" is only used with clientAuthLocation")):
				t.Errorf("%s with %q: got %v, want it refused", key, loc, err)
			}
		}
	}
}
