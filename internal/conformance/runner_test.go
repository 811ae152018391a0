package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing the
// test, so the runner's own checks can be tested.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r) // unwound by runRecorded
}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// runRecorded runs the case text through the runner and returns what it
// reported.
func runRecorded(t *testing.T, text string) []string {
	file := filepath.Join(t.TempDir(), "case.yml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil && v != rec {
				panic(v)
			}
		}()
		runCase(rec, file)
	}()
	return rec.msgs
}

const runnerBase = `source:
  page: https://example.test/docs
  section: Runner self-test
files:
  spec.yml: |
    key: selftest
    name: Self test
    auth:
      type: client-credentials
      ui:
        schema:
          type: object
          properties:
            apiKey: {type: string}
      makeApiClient:
        implementationType: mapping
        mapping:
          baseUri: https://api.example.test
          headers:
            X-Api-Key: { $var: $.credentials.apiKey }
`

// The runner must fail a case whose documented outcome does not happen:
// a passing suite would otherwise mean nothing.
func TestRunnerCatchesMismatches(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"wrong header", runnerBase + `input: {apiKey: k1}
provider:
  - {method: GET, path: /me, expect: {headers: {X-Api-Key: k2}}, respond: {json: {id: 1}}}
steps:
  - request: {path: /me, response: {id: 1}}
`, "header X-Api-Key is \"k1\", want \"k2\""},
		{"unused endpoint", runnerBase + `input: {apiKey: k1}
provider:
  - {method: GET, path: /me, respond: {json: {id: 1}}}
  - {method: GET, path: /never, respond: {json: {}}}
steps:
  - request: {path: /me, response: {id: 1}}
`, "/never was never called"},
		{"unexpected request", runnerBase + `input: {apiKey: k1}
provider: []
steps:
  - request: {path: /me, error: "404"}
`, "unexpected request GET api.example.test/me"},
		{"wrong response", runnerBase + `input: {apiKey: k1}
provider:
  - {method: GET, path: /me, respond: {json: {id: 1}}}
steps:
  - request: {path: /me, response: {id: 2}}
`, "id is 1, want 2"},
		{"wrong credentials", runnerBase + `input: {apiKey: k1}
steps:
  - connect: {credentials: {apiKey: other}}
`, "apiKey is \"k1\", want \"other\""},
		{"unexpected success", runnerBase + `input: {apiKey: k1}
provider:
  - {method: GET, path: /me, respond: {json: {id: 1}}}
steps:
  - request: {path: /me, error: "401"}
`, "succeeded, want an error containing \"401\""},
		{"no citation", strings.Replace(runnerBase, "https://example.test/docs", "somewhere", 1) + `steps:
  - connect: {ok: true}
`, "source.page (an https URL)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msgs := runRecorded(t, c.text)
			if !containsSub(msgs, c.want) {
				t.Fatalf("runner reported %q, want a failure containing %q", msgs, c.want)
			}
		})
	}
	// And the same base case, right, passes.
	msgs := runRecorded(t, runnerBase+`input: {apiKey: k1}
provider:
  - {method: GET, path: /me, expect: {headers: {X-Api-Key: k1}}, respond: {json: {id: 1}}}
steps:
  - request: {path: /me, response: {id: 1}}
`)
	if len(msgs) > 0 {
		t.Fatalf("a right case failed: %q", msgs)
	}
}
