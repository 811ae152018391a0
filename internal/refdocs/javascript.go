package refdocs

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/jsrt"
)

func writeJavaScript(b *bytes.Buffer) error {
	b.WriteString("Methods may be written in JavaScript or TypeScript (`implementationType: javascript`, files ending\n" +
		"`.js`, `.ts`, `.mjs`, or inline `code:`). A method file is an ES module whose default export (or\n" +
		"`module.exports`, or an export named after the method) is called with one object holding the method's inputs (see\n" +
		"[auth-types.md](auth-types.md)); its result, awaited, is the method's result. TypeScript types are\n" +
		"stripped at load. Each call runs in a sandbox (goja): no file system, network, `process`, `eval`\n" +
		"or `require` of other modules; HTTP goes only through `fetch`, `axios` and `apiClient`, and through\n" +
		"the engine's host policy like every other request.\n\n")
	if err := writeJSLimits(b); err != nil {
		return err
	}
	if err := writeJSModules(b); err != nil {
		return err
	}
	return writeJSGlobals(b)
}

// jsLimit is one row of the limits table.
type jsLimit struct {
	name, value, what string
}

// writeJSLimits prints the limits of a call as the engine applies them
// (jsrt's defaults; an embedder may change them with engine.WithJSOptions).
func writeJSLimits(b *bytes.Buffer) error {
	o := jsrt.DefaultOptions()
	limits := []jsLimit{
		{"Time per call", duration(o.Timeout), "Wall time of one call, awaiting its promise included; regular expressions that backtrack stop at it too. Over it: `jsrt: time limit exceeded`."},
		{"Time to load a module", duration(jsrt.CompileTimeout), "The module's top-level code, run once when the connector is compiled."},
		{"Call stack", count(int64(o.MaxCallStackSize)) + " frames", "JavaScript call depth. Over it: `jsrt: maximum call stack size exceeded`."},
		{"String and buffer output", size(int64(o.MaxStringLength)), "Output budget of built-ins that can make much more than their input (`repeat`, `padStart`, `join`, `replaceAll`, `btoa`, `JSON.stringify`, typed arrays, ...): counted in UTF-16 units for strings, bytes for buffers and JSON text."},
		{"Array length", count(int64(o.MaxArrayLength)) + " elements", "Arrays built-ins are asked to create or walk (`Array(n)`, `fill`, spread, `Array.from`, `Object.keys`, the values of a `JSON.parse` text, ...)."},
		{"Heap growth", size(o.MaxHeapGrowth), "Growth of the process's live heap while a call runs. Over it: `jsrt: memory limit exceeded`."},
		{"JSON nesting", count(jsrt.MaxJSONDepth) + " levels", "Depth of `JSON.parse` and `JSON.stringify` values."},
		{"Console message", size(jsrt.MaxConsoleMessage), "One `console.*` message, after secrets are redacted; longer ones are cut."},
		{"Response body", size(engine.MaxResponseBody), "A response `fetch` or `axios` reads; a larger one is an error."},
		{"Imported files", count(jsrt.MaxImportFiles) + " files", "Files one method bundles, its own file included."},
		{"Imported bytes", size(jsrt.MaxImportBytes), "Total size of the files one method bundles."},
	}
	b.WriteString("## Limits\n\nEvery call is bounded; a method that passes a bound stops with an error naming it, never a partial\n" +
		"result. The values are the defaults an `engine.Engine` uses (`jsrt.DefaultOptions`); an embedder can\n" +
		"change the per-call ones with `engine.WithJSOptions`.\n\n| Limit | Value | What it bounds |\n|---|---|---|\n")
	for _, l := range limits {
		fmt.Fprintf(b, "| %s | %s | %s |\n", l.name, l.value, cell(l.what))
	}
	return nil
}

// writeJSModules lists what a method may import, reading the SDK's and
// axios's members from a running sandbox.
func writeJSModules(b *bytes.Buffer) error {
	sdk := jsrt.SDKModules()
	b.WriteString("\n## Imports\n\n")
	fmt.Fprintf(b, "- The SDK: %s (and their subpaths, such as `%s/errors`) are one built-in module.\n", codeList(sdk, ""), sdk[0])
	fmt.Fprintf(b, "- %s: an axios-compatible client whose requests go through the engine (see below).\n", codeList(jsrt.HostModules(), ""))
	fmt.Fprintf(b, "- Relative imports (`./x`, `../x`) of files inside the connector folder ending %s; an import\n"+
		"  without an ending tries them in this order, then `index` files. Imports that leave the folder, absolute\n"+
		"  paths, cycles and any other package are refused when the connector is validated.\n",
		codeList(jsrt.ImportExtensions(), ""))

	exports, err := probeJS(`import * as sdk from '` + sdk[0] + `'
export default () => Object.keys(sdk).filter(k => k !== 'default').map(k =>
  typeof sdk[k] === 'function' ? k : k + ' {' + Object.keys(sdk[k]).map(j => j + ': ' + JSON.stringify(sdk[k][j])).join(', ') + '}')`)
	if err != nil {
		return err
	}
	b.WriteString("\n### The SDK module\n\n")
	for _, e := range exports {
		fmt.Fprintf(b, "- `%s`\n", e)
	}
	b.WriteString("\nThe error classes take `{message, key, data}`; thrown from a method, the class and `key` reach the\n" +
		"engine (for example `new ConnectionError({message, key: ConnectionErrorKey.ACCESS_TOKEN_EXPIRED})`).\n" +
		"A `RestApiClient` returned from `makeApiClient` stands for the options it was constructed with\n" +
		"(`baseUri`, `headers`, ...).\n")

	members, err := probeJS(`import axios from 'axios'
export default () => Object.keys(axios).filter(k => k !== 'default')`)
	if err != nil {
		return err
	}
	b.WriteString("\n### axios\n\n")
	fmt.Fprintf(b, "`axios(config)`, `axios(url, config)` and the members %s. Requests and responses are\n"+
		"JSON or text; a config option axios has but this module does not support is a `TypeError` naming it.\n", codeList(members, ""))
	return nil
}

// writeJSGlobals lists the globals the sandbox adds to and removes from a
// plain goja runtime, both read from running code.
func writeJSGlobals(b *bytes.Buffer) error {
	sandbox, err := probeJS(`export default () => Object.getOwnPropertyNames(globalThis)`)
	if err != nil {
		return err
	}
	plain, err := plainGlobals()
	if err != nil {
		return err
	}
	var added, removed []string
	for _, g := range sandbox {
		if !slices.Contains(plain, g) {
			added = append(added, g)
		}
	}
	for _, g := range plain {
		if !slices.Contains(sandbox, g) {
			removed = append(removed, g)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	b.WriteString("\n## Globals\n\nThe ECMAScript built-ins (frozen, so one call cannot change them for the next), plus:\n\n")
	fmt.Fprintf(b, "%s.\n\n", codeList(added, "none"))
	b.WriteString("`fetch` follows the WHATWG shape (`Headers`, `Request`, `Response`; bodies as text or JSON); `console`\n" +
		"output goes to the engine's logger with secrets redacted. Calls an input's `apiClient` makes\n" +
		"(`await apiClient.get('/me')`) carry the connection's authentication.\n\n")
	fmt.Fprintf(b, "Removed from the built-ins: %s. `BigInt` is removed because its operators have no bound (`1n << 100000000000n`\n"+
		"would allocate gigabytes at once).\n", codeList(removed, "none"))
	return nil
}

// probeJS compiles and runs src in the sandbox and returns its result, a
// list of strings.
func probeJS(src string) ([]string, error) {
	p, problems := jsrt.Compile("probe.js", []byte(src))
	if len(problems) > 0 {
		return nil, fmt.Errorf("probing the JavaScript runtime: %v", problems)
	}
	v, err := jsrt.Call(context.Background(), p, map[string]any{})
	if err != nil {
		return nil, fmt.Errorf("probing the JavaScript runtime: %w", err)
	}
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("probing the JavaScript runtime: got %T, not a string", x)
		}
		out = append(out, s)
	}
	return out, nil
}

// plainGlobals returns the globals of a goja runtime without the sandbox.
func plainGlobals() ([]string, error) {
	v, err := goja.New().RunString(`Object.getOwnPropertyNames(globalThis)`)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, x := range v.Export().([]any) {
		out = append(out, x.(string))
	}
	return out, nil
}

func duration(d time.Duration) string { return "`" + d.String() + "`" }

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, parts...), ",")
}

// size formats a byte count as KiB/MiB when exact, with the byte count.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB (%s bytes)", n>>20, count(n))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB (%s bytes)", n>>10, count(n))
	}
	return count(n) + " bytes"
}
