package spec

import (
	"strings"
	"testing"
	"testing/fstest"
)

// diagStrings renders diags one per line, for comparisons.
func diagStrings(diags Diagnostics) []string {
	out := make([]string, len(diags))
	for i, d := range diags {
		out[i] = d.String()
	}
	return out
}

// wantDiags checks that diags are exactly want, each given as a prefix.
func wantDiags(t *testing.T, diags Diagnostics, want ...string) {
	t.Helper()
	got := diagStrings(diags)
	if len(got) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("diagnostic %d = %q\nwant prefix %q", i, got[i], w)
		}
	}
}

// The documented makeApiClient examples load without a word:
// console.integration.app/docs/connector-builder/authentication/types/client-credentials,
// "API Client Configuration", "API Key in Header", "API Key in Query
// Parameter" (baseUrl, defaultQueryParameters), and
// .../authentication/methods/make-api-client, "YAML Mapping" (baseUri,
// headers, query, auth, responseHandlers).
func TestDocumentedMakeApiClientKeysLoadClean(t *testing.T) {
	for name, mapping := range map[string]string{
		"api key in header": "baseUrl: https://api.example.com/v1\nheaders:\n  X-API-Key:\n    $var: credentials.apiKey\n  Content-Type: application/json\n",
		"api key in query":  "baseUrl: https://api.example.com/v1\ndefaultQueryParameters:\n  api_key:\n    $var: credentials.apiKey\nheaders:\n  Content-Type: application/json\n",
		"every key":         "baseUri: https://api.example.com\nheaders: {A: b}\nquery: {c: d}\nauth: {username: u, password: p}\nresponseHandlers:\n  - match: true\n    isSuccess: false\n    error: {message: m, key: k}\n",
		"args wrapper":      "args:\n  baseUrl: https://api.example.com\n  defaultQueryParameters: {k: v}\n",
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"c/spec.yml":                     file("key: c\nname: C\nauth:\n  type: client-credentials\n"),
				"c/auth/make-api-client.map.yml": file(mapping),
			}
			_, diags := Load(fsys, "c")
			wantDiags(t, diags)
		})
	}
}

// A literal makeApiClient key the engine would not use is an error at the
// key's file:line:col (it used to be dropped, with a warning only when a
// spelling hint was found); so are two names for one key, keys beside
// args, and unknown keys of auth and of a response handler.
func TestMakeApiClientLiteralKeysAreChecked(t *testing.T) {
	cases := []struct {
		name, mapping string
		want          []string
	}{
		{"unknown key", "baseUri: https://a.example\ndefaultHeaders: {X: y}\n",
			[]string{`c/auth/make-api-client.map.yml:2:1: error: makeApiClient result has no key "defaultHeaders": connspec would not use it`}},
		{"typo with hint", "baseUri: https://a.example\nheader: {X: y}\n",
			[]string{`c/auth/make-api-client.map.yml:2:1: error: makeApiClient result has no key "header"`}},
		{"baseUri and baseUrl", "baseUri: https://a.example\nbaseUrl: https://b.example\n",
			[]string{`c/auth/make-api-client.map.yml:2:1: error: makeApiClient result has both baseUri and baseUrl, which name the same thing; keep one`}},
		{"query and defaultQueryParameters", "baseUri: https://a.example\ndefaultQueryParameters: {a: b}\nquery: {c: d}\n",
			[]string{`c/auth/make-api-client.map.yml:3:1: error: makeApiClient result has both defaultQueryParameters and query`}},
		{"alias of the wrong kind", "baseUrl: [https://a.example]\n",
			[]string{`c/auth/make-api-client.map.yml:1:10: error: makeApiClient: baseUrl must be a string, not a list`}},
		{"key beside args", "headers: {X: y}\nargs:\n  baseUri: https://a.example\n",
			[]string{`c/auth/make-api-client.map.yml:1:1: error: makeApiClient result has "headers" beside args`}},
		{"unknown auth key", "baseUri: https://a.example\nauth:\n  username: u\n  token: t\n",
			[]string{`c/auth/make-api-client.map.yml:4:3: error: makeApiClient auth has no key "token"`}},
		{"unknown handler key", "baseUri: https://a.example\nresponseHandlers:\n  - match: true\n    isSucces: true\n",
			[]string{`c/auth/make-api-client.map.yml:4:5: error: a response handler has no key "isSucces"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"c/spec.yml":                     file("key: c\nname: C\nauth:\n  type: client-credentials\n"),
				"c/auth/make-api-client.map.yml": file(tc.mapping),
			}
			_, diags := Load(fsys, "c")
			wantDiags(t, diags, tc.want...)
		})
	}
}

// getCredentialsFromTokenResponse is the name the OAuth2 page uses, in the
// spec and as the file auth/get-credentials-from-token-response.js
// (console.integration.app/docs/connector-builder/authentication/types/oauth2,
// "Configuration" and "Custom Credentials Extraction").
func TestGetCredentialsFromTokenResponseAlias(t *testing.T) {
	const spec = "key: c\nname: C\nauth:\n  type: oauth2\n  getOAuthConfig:\n    mapping: {clientId: a, clientSecret: b, authorizeUri: https://a.example/auth, tokenUri: https://a.example/token}\n  makeApiClient:\n    mapping: {baseUri: https://a.example}\n"
	const js = "exports.getCredentialsFromTokenResponse = async function ({ tokenResponse }) { return tokenResponse }\n"
	t.Run("declared in the spec", func(t *testing.T) {
		fsys := fstest.MapFS{
			"c/spec.yml": file(spec + "  getCredentialsFromTokenResponse:\n    implementationType: javascript\n"),
			"c/auth/get-credentials-from-token-response.js": file(js),
		}
		c := mustLoad(t, fsys, "c")
		m := c.Auth.Methods[MethodGetCredentialsFromAccessTokenResponse]
		if m == nil || m.Body.File != "c/auth/get-credentials-from-token-response.js" {
			t.Fatalf("method = %+v", m)
		}
	})
	t.Run("found by file name", func(t *testing.T) {
		fsys := fstest.MapFS{
			"c/spec.yml": file(spec),
			"c/auth/get-credentials-from-token-response.js": file(js),
		}
		c := mustLoad(t, fsys, "c")
		if c.Auth.Methods[MethodGetCredentialsFromAccessTokenResponse] == nil {
			t.Fatal("the convention file was not used")
		}
	})
	t.Run("both names in the spec", func(t *testing.T) {
		fsys := fstest.MapFS{"c/spec.yml": file(spec +
			"  getCredentialsFromAccessTokenResponse:\n    mapping: {access_token: x}\n" +
			"  getCredentialsFromTokenResponse:\n    mapping: {access_token: y}\n")}
		_, diags := Load(fsys, "c")
		wantDiags(t, diags, `c/spec.yml:11:3: error: auth declares both getCredentialsFromAccessTokenResponse and getCredentialsFromTokenResponse, which name the same method; keep one`)
	})
	t.Run("both file names", func(t *testing.T) {
		fsys := fstest.MapFS{
			"c/spec.yml": file(spec),
			"c/auth/get-credentials-from-token-response.js":        file(js),
			"c/auth/get-credentials-from-access-token-response.js": file(js),
		}
		_, diags := Load(fsys, "c")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "is defined by both") {
			t.Fatalf("diagnostics:\n%s", diags.Error())
		}
	})
	t.Run("not for client-credentials", func(t *testing.T) {
		fsys := fstest.MapFS{"c/spec.yml": file("key: c\nname: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping: {baseUri: https://a.example}\n  getCredentialsFromTokenResponse:\n    mapping: {a: b}\n")}
		_, diags := Load(fsys, "c")
		wantDiags(t, diags, `c/spec.yml:7:3: error: method getCredentialsFromTokenResponse is not allowed for auth type client-credentials`)
	})
}
