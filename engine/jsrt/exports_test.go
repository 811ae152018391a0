package jsrt

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestExportForms compiles and calls each module form the docs write a
// method in; each returns what it received, so a call that reached the
// wrong function (or none) shows.
func TestExportForms(t *testing.T) {
	tests := []struct {
		name, method, file, src string
	}{
		// docs.integration.app/docs/javascript, "Javascript functions in
		// connectors" and "Arguments"; docs.getmembrane.com/docs/javascript
		// (code: module.exports = async function ...).
		{"module.exports = async function", "test", "test.js",
			"module.exports = async function ({ credentials }) {\n  return { got: credentials.k }\n}\n"},
		// docs.integration.app/docs/make-api-client, "JavaScript Implementation"
		// (File: auth/make-api-client.js, exports.makeApiClient = function).
		{"exports.makeApiClient = function", "makeApiClient", "make-api-client.js",
			"exports.makeApiClient = function ({ credentials }) {\n  return { got: credentials.k }\n}\n"},
		// The same CommonJS named export, written for getTokenData as async.
		{"exports.getTokenData = async function", "getTokenData", "get-token-data.js",
			"exports.getTokenData = async function ({ credentials }) {\n  return { got: credentials.k }\n}\n"},
		// module.exports as an object holding the method (CommonJS named export).
		{"module.exports = { makeApiClient }", "makeApiClient", "make-api-client.js",
			"module.exports = {\n  makeApiClient: ({ credentials }) => { return { got: credentials.k } },\n}\n"},
		{"module.exports = { long method name }", "getCredentialsFromAccessTokenResponse", "get-credentials-from-access-token-response.ts",
			"function get({ credentials }: any) { return { got: credentials.k } }\nmodule.exports = { getCredentialsFromAccessTokenResponse: get }\n"},
		// docs.getmembrane.com/docs/make-api-client, "JavaScript Implementation"
		// (export default function makeApiClient).
		{"export default function", "makeApiClient", "make-api-client.ts",
			"export default function makeApiClient({ credentials }: any) {\n  return { got: credentials.k }\n}\n"},
		// An ES module's named export that matches the method name.
		{"export async function test", "test", "test.ts",
			"export async function test({ credentials }: any) {\n  return { got: credentials.k }\n}\n"},
		{"export const arrow", "refreshCredentials", "refresh-credentials.js",
			"export const refreshCredentials = async ({ credentials }) => { return { got: credentials.k } }\n"},
		// Both, as the same function: no disagreement.
		{"default and named, same function", "test", "test.ts",
			"export async function test({ credentials }: any) {\n  return { got: credentials.k }\n}\nexport default test\n"},
		{"module.exports and its named property, same function", "test", "test.js",
			"const test = ({ credentials }) => { return { got: credentials.k } }\nmodule.exports = test\nmodule.exports.test = test\n"},
		// Other exports beside the method's do not matter.
		{"named export beside helpers", "test", "test.js",
			"export const helper = 1\nexport function test({ credentials }) { return { got: credentials.k + '' } }\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, probs := CompileMethod(tt.file, tt.method, []byte(tt.src))
			if len(probs) > 0 {
				t.Fatalf("Compile: %v", probs)
			}
			if got := p.Params(); !reflect.DeepEqual(got, []string{"credentials"}) {
				t.Errorf("Params = %v, want [credentials] (read from the chosen function)", got)
			}
			modes(t, func(t *testing.T, o Options) {
				got, err := p.Call(context.Background(), map[string]any{"credentials": map[string]any{"k": "v"}}, o)
				if err != nil {
					t.Fatal(err)
				}
				if want := map[string]any{"got": "v"}; !reflect.DeepEqual(got, want) {
					t.Errorf("Call = %#v, want %#v", got, want)
				}
			})
		})
	}
}

// TestExportProblems: a module without a usable function, or with two that
// disagree, is refused at compile time with a message naming what it
// exports and what was expected. The docs (docs.getmembrane.com/docs/javascript:
// "export a single function as the default export";
// docs.integration.app/docs/make-api-client, "JavaScript Implementation":
// exports.makeApiClient) give no precedence between a default export and a
// named one, so two different functions are refused.
func TestExportProblems(t *testing.T) {
	tests := []struct {
		name, method, file, src string
		line, col               int
		contains                []string
	}{
		{"wrong named export", "makeApiClient", "m.js",
			"exports.makeClient = function () { return {} }\n", 1, 1,
			[]string{"no function to call", "exports makeClient", "named makeApiClient", "export default", "module.exports"}},
		{"nothing exported", "test", "m.js",
			"const test = () => true\n", 1, 1,
			[]string{"the module exports nothing", "named test"}},
		{"module.exports object without the method", "makeApiClient", "m.js",
			"module.exports = { a: () => 1, b: 2 }\n", 1, 1,
			[]string{"exports a, b", "named makeApiClient"}},
		{"named export not a function", "makeApiClient", "m.ts",
			"export const makeApiClient = { baseUri: 'https://x.example' }\n", 1, 1,
			[]string{"the export makeApiClient is an object, not a function"}},
		{"module.exports string", "test", "m.js",
			"module.exports = 'test'\n", 1, 1,
			[]string{"no function to call"}},
		{"default and named disagree", "test", "m.ts",
			"export default async function ({ apiClient }: any) { return true }\n\nexport async function test({ apiClient }: any) {\n  return false\n}\n", 3, 1,
			[]string{"two different functions", "the default export", "the export test"}},
		{"module.exports and its named property disagree", "test", "m.js",
			"module.exports = function () { return 1 }\nmodule.exports.test =\n  function () { return 2 }\n", 3, 3,
			[]string{"two different functions", "module.exports", "the export test"}},
		{"exports.default and named disagree", "getTokenData", "m.js",
			"exports.default = () => 1\nexports.getTokenData = () => 2\n", 2, 24,
			[]string{"two different functions", "the export getTokenData"}},
		{"getter on exports that never returns", "test", "m.js",
			"Object.defineProperty(exports, 'test', { get() { for (;;) {} } })\n", 1, 1,
			[]string{"time limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, probs := CompileMethod(tt.file, tt.method, []byte(tt.src))
			if p != nil || len(probs) == 0 {
				t.Fatalf("Compile succeeded, want a problem")
			}
			got := probs[0]
			if got.Line != tt.line || got.Column != tt.col {
				t.Errorf("problem at %d:%d, want %d:%d: %v", got.Line, got.Column, tt.line, tt.col, got)
			}
			for _, c := range tt.contains {
				if !strings.Contains(got.Message, c) {
					t.Errorf("problem %q does not contain %q", got.Message, c)
				}
			}
		})
	}
}

// TestExportNamesBounded: an error lists at most a few export names.
func TestExportNamesBounded(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		b.WriteString("exports.x" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " = 1\n")
	}
	_, probs := CompileMethod("m.js", "test", []byte(b.String()))
	if len(probs) != 1 || strings.Count(probs[0].Message, " x") != maxListedExports || !strings.Contains(probs[0].Message, "...") {
		t.Fatalf("problems = %v, want one listing at most %d names", probs, maxListedExports)
	}
}

// TestCommonJSSandbox: a CommonJS module sees module and exports as its own
// plain objects, and require still offers the SDK only.
func TestCommonJSSandbox(t *testing.T) {
	p, probs := CompileMethod("m.js", "test", []byte(
		"const sdk = require('@integration-app/sdk')\n"+
			"module.exports = function () {\n"+
			"  return { keys: Object.keys(module), same: module.exports === exports || typeof exports, sdk: typeof sdk.ConnectionError,\n"+
			"    parent: typeof module.parent, req: typeof module.require, cache: typeof require.cache, main: typeof require.main }\n"+
			"}\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	got, err := p.Call(context.Background(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"keys": []any{"exports"}, "same": "object", "sdk": "function",
		"parent": "undefined", "req": "undefined", "cache": "undefined", "main": "undefined"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	for _, src := range []string{
		"const fs = require('fs')\nmodule.exports = () => fs\n",
		"exports.test = () => require('child_process')\n",
	} {
		if _, probs := CompileMethod("m.js", "test", []byte(src)); len(probs) == 0 || !strings.Contains(probs[0].Message, "is not allowed") {
			t.Errorf("%q: problems = %v, want the import refused", src, probs)
		}
	}
}
