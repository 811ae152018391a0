package check

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A misspelt key must stop the check at its line:col: decoding alone drops
// it, and the fixture then passes without testing what its author wrote
// (an `error:` under a request, say, expecting a refusal that never comes).
func TestFixtureUnknownKeysRefused(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"fixture level", "fixtures:\n  - name: a\n    credential_expected: {x: 1}\n", `fixtures.yml:3:5: unknown fixture key "credential_expected"; did you mean credentials_expected?`},
		{"under a request", "fixtures:\n  - name: a\n    requests:\n      - method: GET\n        url: https://x.test/\n        error: refused\n", `fixtures.yml:6:9: unknown fixture key "error"`},
		{"under respond", "fixtures:\n  - name: a\n    requests:\n      - url: https://x.test/\n        respond: {status: 200, jsn: {}}\n", `fixtures.yml:5:32: unknown fixture key "jsn"; did you mean json?`},
		{"under a call", "fixtures:\n  - name: a\n    calls:\n      - path: /me\n        staus: 200\n", `unknown fixture key "staus"; did you mean status?`},
		{"top level", "fixture:\n  - name: a\n", `fixtures.yml:1:1: unknown key "fixture"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{"c/fixtures.yml": {Data: []byte(c.yaml)}}
			_, err := LoadFixtures(fsys, "c")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadFixtures error = %v, want it to contain %q", err, c.want)
			}
		})
	}
	// Free-form maps (input, credentials, form, json, ...) take any key.
	ok := "fixtures:\n  - name: a\n    input: {anything: 1}\n    requests:\n      - url: https://x.test/\n        form: {grant_type: x}\n        respond: {json: {whatever: 1}}\n"
	if _, err := LoadFixtures(fstest.MapFS{"c/fixtures.yml": {Data: []byte(ok)}}, "c"); err != nil {
		t.Fatalf("free-form maps refused: %v", err)
	}
}
