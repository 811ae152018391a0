package jsrt

import (
	"reflect"
	"strings"
	"testing"
)

func TestCompileProblems(t *testing.T) {
	tests := []struct {
		name, file, src string
		line, col       int
		contains        string
	}{
		{"ts syntax", "m.ts", "export default function (x: number) {\n  const y: string = ;\n  return y\n}\n", 2, 21, "Unexpected"},
		{"js syntax", "m.js", "// comment\nexport default function () {\n  return {a: 1,,}\n}\n", 3, 16, "Expected identifier"},
		{"unknown import", "m.ts", "import { x } from '@integration-app/sdk'\nimport fs from 'fs'\nexport default () => fs\n", 2, 16, `"fs"`},
		{"relative import", "m.js", "\n\nimport { helper } from './helper'\nexport default () => helper()\n", 3, 24, `"./helper"`},
		{"node-fetch require", "m.js", "const f = require('node-fetch')\nexport default () => f\n", 1, 19, `"node-fetch" is not allowed: only files of the connector folder (./x, ../x) and @integration-app/sdk, @integration-app/connector-sdk, @membranehq/sdk, axios are available`},
		{"named export, no method name", "m.ts", "export function makeApiClient() { return 1 }\n", 1, 1, "no function to call: the module exports makeApiClient"},
		{"default not a function", "m.js", "export default { a: 1 }\n", 1, 1, "the default export is an object, not a function"},
		{"top-level throw", "m.js", "\nthrow new Error('boom')\nexport default () => 1\n", 2, 7, "boom"},
		{"top-level loop", "m.js", "for (;;) {}\nexport default () => 1\n", 1, 1, "time limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, probs := Compile(tt.file, []byte(tt.src))
			if p != nil || len(probs) == 0 {
				t.Fatalf("Compile succeeded, want a problem")
			}
			got := probs[0]
			if got.Line != tt.line || got.Column != tt.col || !strings.Contains(got.Message, tt.contains) {
				t.Errorf("problem = %v, want %d:%d containing %q", got, tt.line, tt.col, tt.contains)
			}
		})
	}
}

func TestCompileReportsEveryBadImport(t *testing.T) {
	_, probs := Compile("m.ts", []byte("import a from 'fs'\nimport b from 'http'\nexport default () => [a, b]\n"))
	if len(probs) != 2 || probs[0].Line != 1 || probs[1].Line != 2 {
		t.Fatalf("problems = %v, want one per import on lines 1 and 2", probs)
	}
}

func TestCompileAcceptsSDKSpecifiers(t *testing.T) {
	for _, spec := range []string{"@integration-app/sdk", "@integration-app/connector-sdk", "@membranehq/sdk", "@integration-app/sdk/errors"} {
		src := "import { ConnectionError } from '" + spec + "'\nexport default () => typeof ConnectionError\n"
		if _, probs := Compile("m.ts", []byte(src)); len(probs) > 0 {
			t.Errorf("%s: %v", spec, probs)
		}
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"export default async function makeApiClient({ credentials, connectorParameters }: any) { return 1 }", []string{"connectorParameters", "credentials"}},
		{"export default async ({ credentials: { access_token }, 'input': i = 1 }) => 1", []string{"credentials", "input"}},
		{"export default function (input) { return input.credentials }", nil},
		{"export default ({ credentials, ...rest }) => rest", nil},
		{"export default () => 1", nil},
		// An object literal body in parentheses, as most makeApiClient
		// examples write it.
		{"export default ({ credentials }) => ({ headers: { a: credentials.k } })", []string{"credentials"}},
		{"module.exports = async ({ connectionInput, codeVerifier }) => ({ code: (codeVerifier) })", []string{"codeVerifier", "connectionInput"}},
	}
	for _, tt := range tests {
		p, probs := Compile("m.ts", []byte(tt.src))
		if len(probs) > 0 {
			t.Fatalf("%s: %v", tt.src, probs)
		}
		if got := p.Params(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Params(%s) = %v, want %v", tt.src, got, tt.want)
		}
	}
}
