package formulas_test

import (
	"fmt"

	"github.com/connspec/connspec/formulas"
	"go.yaml.in/yaml/v3"
)

func Example() {
	src := `
baseUri:
  $case:
    cases:
      - filter: { $eval: { $var: connectionParameters.region }, is: eu }
        value: https://api.eu.example.com/v2
    default: https://api.example.com/v2
headers:
  Authorization: { $concat: [ "Bearer ", { $var: credentials.access_token } ] }
  X-Account: { $var: $.connectionParameters.accountId }
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		panic(err)
	}
	m, problems := formulas.Compile(&doc)
	for _, p := range problems {
		fmt.Println(p)
	}
	if m == nil {
		return
	}
	out, err := m.Evaluate(map[string]any{
		"credentials":          map[string]any{"access_token": "s3cr3t"},
		"connectionParameters": map[string]any{"region": "eu"},
	})
	if err != nil {
		panic(err)
	}
	result := out.(map[string]any)
	fmt.Println(result["baseUri"])
	fmt.Println(result["headers"])
	for _, r := range m.References() {
		fmt.Printf("%d:%d reads %s\n", r.Line, r.Column, r.Locator)
	}
	// Output:
	// https://api.eu.example.com/v2
	// map[Authorization:Bearer s3cr3t]
	// 5:28 reads connectionParameters.region
	// 9:44 reads credentials.access_token
	// 10:16 reads $.connectionParameters.accountId
}
