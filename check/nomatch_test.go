package check

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const noMatchSpec = `key: fx
name: FX
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties: {apiKey: {type: string}}
  makeApiClient:
    mapping:
      baseUri: https://api.fx.example
      headers: {X-Api-Key: {$var: credentials.apiKey}}
  test:
    implementationType: rest-api-mapping
    mapping: {path: /me, method: GET}
`

// A request no fixture entry matches is answered 599 by the mock; wherever
// a problem quotes that status (an engine error, a call expecting an error,
// a call expecting a status) the report says what it means.
func TestReportsExplainTheNoFixtureStatus(t *testing.T) {
	for name, fixture := range map[string]string{
		"the test": `fixtures:
  - name: test
    input: {apiKey: k-123456}
    test: pass
    requests:
      - {method: GET, url: https://api.fx.example/whoami, respond: {json: {ok: true}}}
`,
		"a call expecting an error": `fixtures:
  - name: call
    input: {apiKey: k-123456}
    test: skip
    requests:
      - {method: GET, url: https://api.fx.example/whoami, times: any, respond: {json: {ok: true}}}
    calls:
      - {method: GET, path: /other, error: rate_limit_exceeded}
`,
		"a call expecting a status": `fixtures:
  - name: call
    input: {apiKey: k-123456}
    test: skip
    requests:
      - {method: GET, url: https://api.fx.example/whoami, times: any, respond: {json: {ok: true}}}
    calls:
      - {method: GET, path: /other, status: 404}
`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fx")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "spec.yml"), []byte(noMatchSpec), 0o644)
			os.WriteFile(filepath.Join(dir, "fixtures.yml"), []byte(fixture), 0o644)
			results, diags := Path(context.Background(), dir)
			if len(diags) > 0 {
				t.Fatal(diags.Error())
			}
			if len(results) != 1 || len(results[0].Results) != 1 || results[0].Results[0].OK() {
				t.Fatalf("the fixture must fail: %+v", results)
			}
			problems := results[0].Results[0].Problems
			all := strings.Join(problems, "\n")
			if !strings.Contains(all, "unexpected request GET https://api.fx.example/") {
				t.Errorf("the unmatched request is not reported:\n%s", all)
			}
			for _, p := range problems {
				if regexp.MustCompile(`\b599\b`).MatchString(p) && !strings.Contains(p, "599 is connspec check's answer to a request no fixture entry matches") {
					t.Errorf("an unexplained 599: %s", p)
				}
			}
		})
	}
}
