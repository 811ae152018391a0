package engine

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// fuzzInputConnector has a UI schema with the keywords connection input is
// checked against: types, required, pattern, enum, nesting, bounds and
// formats.
const fuzzInputConnector = `key: c
name: C
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        apiKey: {type: string, minLength: 8, pattern: "^[A-Za-z0-9_-]+$"}
        region: {type: string, enum: [eu, us]}
        port: {type: integer, minimum: 1, maximum: 65535}
        ratio: {type: number}
        flags: {type: array, items: {type: boolean}, maxItems: 4}
        nested: {type: object, properties: {a: {type: string}}, required: [a], additionalProperties: false}
        host: {type: string, format: hostname}
        site: {type: string, format: uri}
        email: {type: string, format: email}
        ip: {type: string, format: ipv4}
        ip6: {type: string, format: ipv6}
        since: {type: string, format: date-time}
        tenant: {type: string, format: uuid}
      required: [apiKey]
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
      headers: {X-Api-Key: {$var: credentials.apiKey}}
`

// FuzzValidateInput feeds arbitrary JSON connection input to the UI-schema
// check: it must answer nil or an *InputError naming a field, never panic,
// and never repeat an input value in the message.
func FuzzValidateInput(f *testing.F) {
	for _, seed := range []string{
		`{"apiKey":"abcdefgh"}`,
		`{"apiKey":"short"}`,
		`{"apiKey":"abcdefgh","region":"mars"}`,
		`{"apiKey":"abcdefgh","port":70000}`,
		`{"apiKey":"abcdefgh","port":1.5}`,
		`{"apiKey":"abcdefgh","flags":[true,false,true,true,true]}`,
		`{"apiKey":"abcdefgh","nested":{"b":1}}`,
		`{"apiKey":"has spaces and secrets"}`,
		`{"apiKey":42}`,
		`{}`,
		`{"apiKey":"abcdefgh","ratio":1e308}`,
		`{"apiKey":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`,
		`{"apiKey":"abcdefgh","host":"acme.example.com"}`,
		`{"apiKey":"abcdefgh","host":"127.0.0.2:18081/#secret-in-host"}`,
		`{"apiKey":"abcdefgh","site":"https://api.example.com/v1"}`,
		`{"apiKey":"abcdefgh","site":"relative/secret-in-site"}`,
		`{"apiKey":"abcdefgh","email":"secret-without-at-sign"}`,
		`{"apiKey":"abcdefgh","ip":"999.999.999.999"}`,
		`{"apiKey":"abcdefgh","ip6":"2001:db8::secretvalue"}`,
		`{"apiKey":"abcdefgh","since":"2024-01-02T03:04:05Z"}`,
		`{"apiKey":"abcdefgh","since":"yesterday-secret-value"}`,
		`{"apiKey":"abcdefgh","tenant":"secret-not-a-uuid-value"}`,
		`{"apiKey":"abcdefgh","host":42}`,
	} {
		f.Add(seed)
	}
	e := New()
	cc, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(fuzzInputConnector)}}, "c.yml")
	if diags.HasErrors() {
		f.Fatal(diags)
	}
	a, err := cc.auth("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var input map[string]any
		if json.Unmarshal([]byte(raw), &input) != nil {
			return
		}
		err := validateInput(cc, a, input)
		if err == nil {
			return
		}
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("not an *InputError: %T %v", err, err)
		}
		msg := err.Error()
		for _, v := range input {
			// Only distinctive values are checked: a short one may be part
			// of the wording ("is", "eu") by chance.
			if s, ok := v.(string); ok && len(s) >= 12 && strings.Contains(msg, s) {
				t.Fatalf("the error repeats an input value %q: %s", s, msg)
			}
		}
	})
}
