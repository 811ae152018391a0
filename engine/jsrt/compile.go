package jsrt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/evanw/esbuild/pkg/api"
)

// Program is a compiled method. It is immutable and safe for concurrent use.
type Program struct {
	filename string
	prog     *goja.Program // evaluates to function (exports, require, module)
	smap     sourceMap
	params   []string
	// names are the export names that may hold the function: the method's
	// and its aliases (none for a plain Compile).
	names []string
}

// Filename returns the name the program was compiled under.
func (p *Program) Filename() string { return p.filename }

// Params returns the property names the default export destructures from its
// first parameter, e.g. ["credentials", "connectorParameters"] for
// `({ credentials, connectorParameters }) => ...`, sorted. It returns nil when
// that is unknown: the parameter is not an object pattern, or has a rest
// element or a computed key.
func (p *Program) Params() []string {
	if p.params == nil {
		return nil
	}
	return append([]string(nil), p.params...)
}

// sdkModules are the import specifiers (and their subpaths) that resolve to
// the built-in SDK module.
var sdkModules = []string{"@integration-app/sdk", "@integration-app/connector-sdk", "@membranehq/sdk"}

// hostModules are the other modules a method may import: axios, whose
// requests go through Options.Fetch.
var hostModules = []string{"axios"}

// SDKModules returns the import specifiers of the built-in SDK module (a
// subpath of one, such as "@integration-app/sdk/errors", resolves there too).
func SDKModules() []string { return slices.Clone(sdkModules) }

// HostModules returns the other bare modules a method may import (axios).
func HostModules() []string { return slices.Clone(hostModules) }

func isSDKModule(spec string) bool {
	for _, m := range sdkModules {
		if spec == m || strings.HasPrefix(spec, m+"/") {
			return true
		}
	}
	return false
}

const wrapperHead = "(function (exports, require, module) {\n"

// Compile is CompileMethod without a method name: the module must export its
// function as the default export or as module.exports.
func Compile(filename string, source []byte) (prog *Program, problems []Problem) {
	return CompileMethod(filename, "", source)
}

// CompileMethod transforms and compiles the source of the method named method
// (camelCase, e.g. "makeApiClient"). Files ending in .ts (or .mts, .cts) are
// TypeScript, anything else JavaScript; both may be ES modules or CommonJS.
// It returns every problem it can find with positions in the original
// source; the Program is nil when there are problems.
//
// CompileMethod evaluates the module's top level once in a throwaway sandbox
// (with a one-second limit) to find the function to call: see
// [Program.pick]. aliases are other names the docs give the method (e.g.
// getCredentialsFromTokenResponse); an export under one of them counts as
// an export under the method's name.
func CompileMethod(filename, method string, source []byte, aliases ...string) (prog *Program, problems []Problem) {
	return CompileMethodFS(Folder{}, filename, method, source, aliases...)
}

// CompileMethodFS is CompileMethod for a method of a connector folder: its
// relative imports (import { x } from './helpers', require('../lib/x.js'))
// are read from dir and bundled in, never from outside dir.Root. filename is
// the method's path in dir.FS (for inline code, a name in the folder of the
// spec file). Problems in an imported file carry that file's path.
func CompileMethodFS(dir Folder, filename, method string, source []byte, aliases ...string) (prog *Program, problems []Problem) {
	// esbuild loops forever quoting a source file name that is not UTF-8.
	filename = strings.ToValidUTF8(filename, "\uFFFD")
	prog, problems = compileMethod(dir, filename, method, source, aliases)
	for i := range problems {
		if problems[i].File == "" {
			problems[i].File = filename
		}
	}
	return prog, problems
}

func compileMethod(dir Folder, filename, method string, source []byte, aliases []string) (prog *Program, problems []Problem) {
	defer func() {
		if r := recover(); r != nil {
			prog, problems = nil, []Problem{{Line: 1, Column: 1, Message: fmt.Sprintf("internal error while compiling: %v", r)}}
		}
	}()
	b := newBundler(dir, filename, source)
	res := api.Build(api.BuildOptions{
		EntryPoints:    []string{filename},
		Bundle:         true,
		Write:          false,
		Outfile:        "method.js",
		AbsWorkingDir:  "/",
		Platform:       api.PlatformNeutral,
		Format:         api.FormatCommonJS,
		Target:         api.ES2017,
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		LogLevel:       api.LogLevelSilent,
		Plugins:        []api.Plugin{b.plugin()},
		// tsconfig defaults that keep class fields as authors expect.
		TsconfigRaw: `{"compilerOptions":{"useDefineForClassFields":true}}`,
		// With bigint unsupported, esbuild writes BigInt literals as
		// BigInt(...) calls, which fail: the sandbox has no BigInt (see the
		// prelude), whose operators goja does not bound.
		Supported: map[string]bool{"bigint": false},
	})
	for _, m := range res.Errors {
		problems = append(problems, esbuildProblem(m))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	var code, srcMap []byte
	for _, f := range res.OutputFiles {
		if strings.HasSuffix(f.Path, ".map") {
			srcMap = f.Contents
		} else {
			code = f.Contents
		}
	}
	smap, err := parseSourceMap(srcMap)
	if err != nil {
		return nil, []Problem{{Line: 1, Column: 1, Message: "internal error: " + err.Error()}}
	}
	p := &Program{filename: filename, smap: smap}
	for _, n := range append([]string{method}, aliases...) {
		if n != "" && n != "default" {
			p.names = append(p.names, n)
		}
	}
	wrapped := wrapperHead + string(code) + "\n})"
	parsed, err := goja.Parse(filename, wrapped, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, []Problem{p.parseProblem(err)}
	}
	problems = append(problems, p.checkImports(parsed)...)
	if len(problems) > 0 {
		return nil, problems
	}
	p.prog, err = goja.CompileAST(parsed, true)
	if err != nil {
		return nil, []Problem{p.parseProblem(err)}
	}
	params, prob := p.inspect(wrapped)
	if prob != nil {
		return nil, []Problem{*prob}
	}
	p.params = params
	return p, nil
}

func esbuildProblem(m api.Message) Problem {
	p := Problem{Line: 1, Column: 1, Message: m.Text}
	if m.Location != nil {
		p.File = strings.TrimPrefix(m.Location.File, nsConnector+":")
		p.Line, p.Column = m.Location.Line, m.Location.Column+1
	}
	return p
}

// parseProblem turns a goja parse or compile error into a Problem; these are
// rare after esbuild accepted the code (syntax goja lacks).
func (p *Program) parseProblem(err error) Problem {
	var list parser.ErrorList
	var one *parser.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
		one = list[0]
	case errors.As(err, &one):
	}
	if one != nil {
		pr := Problem{Line: 1, Column: 1, Message: "unsupported syntax: " + one.Message}
		pr.File, pr.Line, pr.Column = p.original(one.Position.Line, one.Position.Column)
		return pr
	}
	var ce *goja.CompilerSyntaxError
	if errors.As(err, &ce) {
		return Problem{Line: 1, Column: 1, Message: "unsupported syntax: " + ce.Error()}
	}
	return Problem{Line: 1, Column: 1, Message: err.Error()}
}

// original maps a 1-based position in the compiled code (which has the
// wrapper's head line in front of esbuild's output) to the original file
// and position; the method's file at 1:1 when unknown.
func (p *Program) original(line, col int) (string, int, int) {
	if f, l, c, ok := p.smap.original(line-1, col); ok && f != "" {
		return f, l, c
	}
	return p.filename, 1, 1
}

// checkImports reports every require("x") (which is what esbuild makes of
// imports) of a module other than the SDK.
func (p *Program) checkImports(prg *ast.Program) []Problem {
	var problems []Problem
	walkAST(reflect.ValueOf(prg), func(call *ast.CallExpression) {
		id, ok := call.Callee.(*ast.Identifier)
		if !ok || id.Name != "require" || len(call.ArgumentList) == 0 {
			return
		}
		lit, ok := call.ArgumentList[0].(*ast.StringLiteral)
		if !ok || isSDKModule(lit.Value.String()) || slices.Contains(hostModules, lit.Value.String()) {
			return
		}
		pos := prg.File.Position(int(call.Idx0()) - prg.File.Base())
		file, line, col := p.original(pos.Line, pos.Column)
		problems = append(problems, Problem{
			File: file, Line: line, Column: col,
			Message: fmt.Sprintf("import of %q is not allowed: only %s are available", lit.Value.String(), strings.Join(append(slices.Clone(sdkModules), hostModules...), ", ")),
		})
	})
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].Line != problems[j].Line {
			return problems[i].Line < problems[j].Line
		}
		return problems[i].Column < problems[j].Column
	})
	return problems
}

var (
	callExprType = reflect.TypeOf((*ast.CallExpression)(nil))
	fileType     = reflect.TypeOf((*file.File)(nil))
)

// walkAST visits every call expression reachable from v. goja's ast package
// has no walker, and reflection keeps this independent of its node list.
func walkAST(v reflect.Value, visit func(*ast.CallExpression)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Type() == fileType {
			return
		}
		if v.Type() == callExprType {
			visit(v.Interface().(*ast.CallExpression))
		}
		walkAST(v.Elem(), visit)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			// Declaration lists repeat nodes that are also in the body.
			if f := v.Type().Field(i); f.IsExported() && f.Name != "DeclarationList" {
				walkAST(v.Field(i), visit)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkAST(v.Index(i), visit)
		}
	}
}

// inspect evaluates the module once in a throwaway sandbox to check that it
// exports a function to call, and reads that function's parameters. code is
// the compiled code, used to place problems with the exports.
func (p *Program) inspect(code string) ([]string, *Problem) {
	o := Options{Timeout: CompileTimeout, FreshRuntime: true}.withDefaults()
	var fnSource string
	err := p.run(context.Background(), o, func(v *vm, fn goja.Value) error {
		fnSource = fn.String()
		return nil
	})
	if err != nil {
		var je *Error
		if errors.As(err, &je) {
			if je.export != nil {
				pr := Problem{Line: 1, Column: 1, Message: je.Message}
				if i := strings.Index(code, je.export.at); je.export.at != "" && i >= 0 {
					line := strings.Count(code[:i], "\n") + 1
					pr.File, pr.Line, pr.Column = p.original(line, i-strings.LastIndexByte(code[:i], '\n'))
				}
				return nil, &pr
			}
			pr := Problem{File: je.File, Line: max(je.Line, 1), Column: max(je.Column, 1), Message: "evaluating the module: " + je.Error()}
			if je.Line > 0 {
				pr.Message = "evaluating the module: " + strings.TrimPrefix(je.Error(), fmt.Sprintf("%s:%d:%d: ", je.File, je.Line, je.Column))
			}
			return nil, &pr
		}
		return nil, &Problem{Line: 1, Column: 1, Message: "evaluating the module: " + err.Error()}
	}
	return paramsOf(fnSource), nil
}

// exportProblem marks an Error as a problem with what the module exports;
// at is the source text of the function it concerns, or "".
type exportProblem struct{ at string }

// maxListedExports bounds the export names an error lists.
const maxListedExports = 10

// pick returns the function a module exports for its method, following the
// forms the docs write:
//   - module.exports = function (CommonJS; docs.integration.app/docs/javascript,
//     "Javascript functions in connectors"),
//   - export default function (ES module; docs.getmembrane.com/docs/make-api-client,
//     "JavaScript Implementation"),
//   - exports.makeApiClient = function, the export named like the method
//     (docs.integration.app/docs/make-api-client, "JavaScript Implementation"),
//     or export function makeApiClient.
//
// The docs name no precedence between these, so when the module exports more
// than one of them they must be the same function; otherwise pick refuses,
// as it does when a candidate is not a function or there is none.
func (p *Program) pick(exports *goja.Object) (goja.Value, error) {
	type candidate struct {
		what string
		val  goja.Value
	}
	var cands []candidate
	if _, ok := goja.AssertFunction(exports); ok {
		cands = append(cands, candidate{"module.exports", exports})
	}
	defined := func(v goja.Value) bool { return v != nil && !goja.IsUndefined(v) }
	if d := exports.Get("default"); defined(d) {
		cands = append(cands, candidate{"the default export", d})
	}
	for _, name := range p.names {
		if n := exports.Get(name); defined(n) {
			cands = append(cands, candidate{"the export " + name, n})
		}
	}
	var chosen *candidate
	for i := range cands {
		c := &cands[i]
		if _, ok := goja.AssertFunction(c.val); !ok {
			return nil, &Error{Message: fmt.Sprintf("%s is %s, not a function", c.what, jsTypeOf(c.val)), export: &exportProblem{}}
		}
		if chosen == nil {
			chosen = c
			continue
		}
		if !c.val.SameAs(chosen.val) {
			return nil, &Error{
				Message: fmt.Sprintf("the module exports two different functions, %s and %s, and the docs give neither precedence: export one function, or the same function under both names", chosen.what, c.what),
				export:  &exportProblem{at: c.val.String()},
			}
		}
	}
	if chosen == nil {
		return nil, &Error{Message: p.noFunction(exports), export: &exportProblem{}}
	}
	return chosen.val, nil
}

// noFunction explains that a module exports no function to call.
func (p *Program) noFunction(exports *goja.Object) string {
	keys := exports.Keys()
	sort.Strings(keys)
	got := "nothing"
	if len(keys) > 0 {
		if len(keys) > maxListedExports {
			keys = append(keys[:maxListedExports:maxListedExports], "...")
		}
		got = strings.Join(keys, ", ")
	}
	want := "`export default` a function or set `module.exports` to a function"
	if len(p.names) > 0 {
		want += fmt.Sprintf(", or export a function named %s", strings.Join(p.names, " or "))
	}
	return fmt.Sprintf("no function to call: the module exports %s; it must %s", got, want)
}

// jsTypeOf names a value's JavaScript type for messages.
func jsTypeOf(v goja.Value) string {
	switch {
	case goja.IsNull(v):
		return "null"
	case v.ExportType() == nil:
		return "undefined"
	}
	switch v.ExportType().Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int64, reflect.Float64:
		return "a number"
	}
	if _, ok := v.(*goja.Object); ok {
		return "an object"
	}
	return "not a function"
}

// paramsOf parses a function's source text and returns the keys of its first
// parameter's object pattern, or nil.
func paramsOf(src string) []string {
	prg, err := parser.ParseFile(nil, "", "("+src+")", 0, parser.WithDisableSourceMaps)
	if err != nil {
		// goja's source text of an arrow function whose body is in
		// parentheses, ({ a }) => ({ ... }), lacks the closing one.
		prg, err = parser.ParseFile(nil, "", "("+src+"))", 0, parser.WithDisableSourceMaps)
	}
	if err != nil || len(prg.Body) != 1 {
		return nil
	}
	es, ok := prg.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	var list *ast.ParameterList
	switch f := es.Expression.(type) {
	case *ast.FunctionLiteral:
		list = f.ParameterList
	case *ast.ArrowFunctionLiteral:
		list = f.ParameterList
	}
	if list == nil || len(list.List) == 0 {
		return nil
	}
	pat, ok := list.List[0].Target.(*ast.ObjectPattern)
	if !ok || pat.Rest != nil {
		return nil
	}
	names := []string{}
	for _, prop := range pat.Properties {
		switch pr := prop.(type) {
		case *ast.PropertyShort:
			names = append(names, pr.Name.Name.String())
		case *ast.PropertyKeyed:
			if pr.Computed {
				return nil
			}
			switch k := pr.Key.(type) {
			case *ast.StringLiteral:
				names = append(names, k.Value.String())
			case *ast.Identifier:
				names = append(names, k.Name.String())
			case *ast.NumberLiteral:
				names = append(names, k.Literal)
			default:
				return nil
			}
		default:
			return nil
		}
	}
	sort.Strings(names)
	return names
}
