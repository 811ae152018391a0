package spec

import (
	"strings"
	"testing"
	"testing/fstest"
)

// discoverySpec is an oauth2 connector whose getOAuthConfig mapping gives
// an issuer instead of endpoints; extra follows on line 10.
func discoverySpec(issuer, extra string) fstest.MapFS {
	return fstest.MapFS{"c.yml": file("key: c\nname: C\nauth:\n  type: oauth2\n  makeApiClient:\n    mapping: {baseUri: https://a.example}\n" +
		"  getOAuthConfig:\n    mapping:\n" +
		"      issuer: " + issuer + "\n" + extra)}
}

// TestIssuerIsAGetOAuthConfigKey: issuer and discoveryUrl load, literal or
// computed.
func TestIssuerIsAGetOAuthConfigKey(t *testing.T) {
	for name, c := range map[string][2]string{
		"https issuer":    {"https://login.example.com", ""},
		"path issuer":     {"https://login.example.com/tenants/t1", ""},
		"loopback http":   {"http://127.0.0.1:8080", ""},
		"formula":         {"{$var: connectorParameters.issuer}", ""},
		"discovery URL":   {"https://login.example.com", "      discoveryUrl: https://login.example.com/.well-known/openid-configuration\n"},
		"with clientAuth": {"https://login.example.com", "      clientAuthLocation: body\n"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, diags := Load(discoverySpec(c[0], c[1]), "c.yml"); len(diags) != 0 {
				t.Errorf("diagnostics:\n%s", diags.Error())
			}
		})
	}
}

// TestIssuerNotHTTPSRefused: a literal issuer that is not an https URL
// without query or fragment is an error at its line and column.
func TestIssuerNotHTTPSRefused(t *testing.T) {
	for name, c := range map[string][2]string{
		"http":          {"http://login.example.com", `c.yml:9:15: error: getOAuthConfig issuer "http://login.example.com" is not an https URL`},
		"no scheme":     {"login.example.com", `c.yml:9:15: error: getOAuthConfig issuer "login.example.com" is not an https URL`},
		"query":         {"https://login.example.com/?tenant=1", `c.yml:9:15: error: getOAuthConfig issuer`},
		"discovery URL": {"https://login.example.com\n      discoveryUrl: ftp://login.example.com/x", `c.yml:10:21: error: getOAuthConfig discoveryUrl "ftp://login.example.com/x" is not an https URL`},
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := Load(discoverySpec(c[0], ""), "c.yml")
			if !strings.Contains(diags.Error(), c[1]) {
				t.Errorf("want %q in:\n%s", c[1], diags.Error())
			}
		})
	}
}
