package formulas

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

const makeAPIClientYAML = `
baseUri:
  $case:
    cases:
      - filter: { $eval: { $var: connectionParameters.region }, is: eu }
        value: https://api.eu.example.com/v2
    default: https://api.example.com/v2
headers:
  Authorization: { $concat: [ "Bearer ", { $var: credentials.access_token } ] }
  X-Account: { $var: $.connectionParameters.accountId }
query:
  api_version: "2024-01"
`

func mustCompileYAML(tb testing.TB, src string) *Mapping {
	tb.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		tb.Fatalf("yaml: %v", err)
	}
	m, problems := Compile(&doc)
	for _, p := range problems {
		if p.Severity == SeverityError {
			tb.Fatalf("compile: %v", problems)
		}
	}
	return m
}

func BenchmarkEvaluateMakeApiClient(b *testing.B) {
	m := mustCompileYAML(b, makeAPIClientYAML)
	vars := map[string]any{
		"credentials":          map[string]any{"access_token": "tok-123"},
		"connectionParameters": map[string]any{"region": "eu", "accountId": "acc-9"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Evaluate(vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateExpr is the same kind of work as an `expr` method: one
// $expr formula building a header value from credentials and input.
func BenchmarkEvaluateExpr(b *testing.B) {
	m := mustCompileYAML(b, `
Authorization: { $expr: '"Bearer " + credentials.access_token' }
X-Region: { $expr: 'connectionParameters.region == "eu" ? "api.eu.example.com" : "api.example.com"' }
`)
	vars := map[string]any{
		"credentials":          map[string]any{"access_token": "tok-123"},
		"connectionParameters": map[string]any{"region": "eu", "accountId": "acc-9"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Evaluate(vars); err != nil {
			b.Fatal(err)
		}
	}
}
