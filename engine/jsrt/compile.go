package jsrt

import (
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
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

func isSDKModule(spec string) bool {
	for _, m := range sdkModules {
		if spec == m || strings.HasPrefix(spec, m+"/") {
			return true
		}
	}
	return false
}

const wrapperHead = "(function (exports, require, module) {\n"

// Compile transforms and compiles a method's source. Files ending in .ts (or
// .mts, .cts) are TypeScript, anything else JavaScript. It returns every
// problem it can find with positions in the original source; the Program is
// nil when there are problems.
//
// Compile evaluates the module's top level once in a throwaway sandbox (with
// a one-second limit) to check that it has a default export function.
func Compile(filename string, source []byte) (prog *Program, problems []Problem) {
	defer func() {
		if r := recover(); r != nil {
			prog, problems = nil, []Problem{{Line: 1, Column: 1, Message: fmt.Sprintf("internal error while compiling: %v", r)}}
		}
	}()
	// esbuild loops forever quoting a source file name that is not UTF-8.
	filename = strings.ToValidUTF8(filename, "\uFFFD")
	loader := api.LoaderJS
	switch path.Ext(filename) {
	case ".ts", ".mts", ".cts":
		loader = api.LoaderTS
	}
	res := api.Transform(string(source), api.TransformOptions{
		Loader:     loader,
		Format:     api.FormatCommonJS,
		Target:     api.ES2017,
		Sourcemap:  api.SourceMapExternal,
		Sourcefile: filename,
		LogLevel:   api.LogLevelSilent,
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

	smap, err := parseSourceMap(res.Map)
	if err != nil {
		return nil, []Problem{{Line: 1, Column: 1, Message: "internal error: " + err.Error()}}
	}
	p := &Program{filename: filename, smap: smap}
	code := wrapperHead + string(res.Code) + "\n})"
	parsed, err := goja.Parse(filename, code, parser.WithDisableSourceMaps)
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
	params, prob := p.inspect()
	if prob != nil {
		return nil, []Problem{*prob}
	}
	p.params = params
	return p, nil
}

func esbuildProblem(m api.Message) Problem {
	p := Problem{Line: 1, Column: 1, Message: m.Text}
	if m.Location != nil {
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
		pr.Line, pr.Column = p.original(one.Position.Line, one.Position.Column)
		return pr
	}
	var ce *goja.CompilerSyntaxError
	if errors.As(err, &ce) {
		return Problem{Line: 1, Column: 1, Message: "unsupported syntax: " + ce.Error()}
	}
	return Problem{Line: 1, Column: 1, Message: err.Error()}
}

// original maps a 1-based position in the compiled code (which has the
// wrapper's head line in front of esbuild's output) to the original source;
// 1:1 when unknown.
func (p *Program) original(line, col int) (int, int) {
	if l, c, ok := p.smap.original(line-1, col); ok {
		return l, c
	}
	return 1, 1
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
		if !ok || isSDKModule(lit.Value.String()) {
			return
		}
		pos := prg.File.Position(int(call.Idx0()) - prg.File.Base())
		line, col := p.original(pos.Line, pos.Column)
		problems = append(problems, Problem{
			Line: line, Column: col,
			Message: fmt.Sprintf("import of %q is not allowed: only %s are available", lit.Value.String(), strings.Join(sdkModules, ", ")),
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
// has a default export function, and reads that function's parameters.
func (p *Program) inspect() ([]string, *Problem) {
	o := Options{Timeout: compileTimeout, FreshRuntime: true}.withDefaults()
	var params []string
	var fnSource string
	err := p.run(context.Background(), o, func(v *vm, fn goja.Value) error {
		fnSource = fn.String()
		return nil
	})
	if err != nil {
		var je *Error
		if errors.As(err, &je) {
			if je.Name == "" && je.Message == errNoDefault {
				return nil, &Problem{Line: 1, Column: 1, Message: errNoDefault}
			}
			pr := Problem{Line: max(je.Line, 1), Column: max(je.Column, 1), Message: "evaluating the module: " + je.Error()}
			if je.Line > 0 {
				pr.Message = "evaluating the module: " + strings.TrimPrefix(je.Error(), fmt.Sprintf("%s:%d:%d: ", je.File, je.Line, je.Column))
			}
			return nil, &pr
		}
		return nil, &Problem{Line: 1, Column: 1, Message: "evaluating the module: " + err.Error()}
	}
	params = paramsOf(fnSource)
	return params, nil
}

const errNoDefault = "no default export: the module must `export default` a function"

// paramsOf parses a function's source text and returns the keys of its first
// parameter's object pattern, or nil.
func paramsOf(src string) []string {
	prg, err := parser.ParseFile(nil, "", "("+src+")", 0, parser.WithDisableSourceMaps)
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
