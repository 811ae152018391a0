package engine

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/engine/jsrt"
	"github.com/connspec/connspec/formulas"
	"github.com/connspec/connspec/internal/suggest"
	"github.com/connspec/connspec/spec"
)

// Connector is a compiled connector: the spec plus a ready program for every
// method of every auth option. It is immutable and safe for concurrent use.
type Connector struct {
	Spec *spec.Connector
	// Auth is the compiled base auth block; Options holds the other ways in.
	Auth    *Auth
	Options map[string]*Auth
}

// Auth is a compiled auth block.
type Auth struct {
	Spec *spec.Auth
	Type *spec.AuthType
	// Enabled is the compiled enabled formula, or nil when the block is
	// enabled unconditionally (see EnabledConstant).
	Enabled         *formulas.Mapping
	EnabledConstant bool
	Methods         map[string]*Method
	// hosts is the host policy the block's allowedHosts and methods make.
	hosts *hostPolicy
	// input are the schemas of the block's connection input (redaction
	// tells secret fields from shown ones by them).
	input []*spec.JSONSchema
}

// Method is a compiled auth method. Exactly one of Mapping, Script and
// Request is set.
type Method struct {
	Spec *spec.Method
	// Mapping is set for mapping, rest-api-mapping and expr methods (an expr
	// method is compiled as the formula {$expr: source}).
	Mapping *formulas.Mapping
	// ResponseHandlers is makeApiClient's responseHandlers, split from
	// Mapping: the configuration is evaluated once per credentials version,
	// the handlers once per response, with the variable response.
	ResponseHandlers *formulas.Mapping
	// Script is set for javascript methods.
	Script *jsrt.Program
	// Request is set instead of Mapping for a body that describes an API
	// request (rest-api-mapping, or a mapping test with path, method, ...).
	Request *apiRequest
	// hosts is the host policy of the auth block the method belongs to:
	// where its fetch and axios requests may go.
	hosts *hostPolicy
}

// Compile compiles every method of c. Problems are returned as diagnostics
// with the position in the connector's files; the connector is nil when any
// of them is an error.
func Compile(c *spec.Connector) (*Connector, spec.Diagnostics) {
	cc := &compiler{done: map[string]*Method{}, folder: jsrt.Folder{FS: c.FS, Root: c.Root}}
	out := &Connector{Spec: c, Options: map[string]*Auth{}}
	if c.Auth != nil {
		out.Auth = cc.auth(c, c.Auth)
		for _, key := range c.Auth.OptionKeys {
			out.Options[key] = cc.auth(c, c.Auth.Options[key])
		}
	}
	diags := cc.diags.Sort()
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

type compiler struct {
	// folder is where methods' relative imports are read from.
	folder jsrt.Folder
	diags  spec.Diagnostics
	// done holds compiled methods by body position, so a method an option
	// inherits is compiled (and reported) once.
	done map[string]*Method
}

func (cc *compiler) auth(c *spec.Connector, a *spec.Auth) *Auth {
	t, _ := spec.LookupAuthType(a.Type)
	if _, ok := lookupKind(a.Type); a.Type != "" && !ok {
		// A type the spec knows but the engine cannot run: refused here,
		// not when the first connection is made.
		cc.diags = append(cc.diags, a.Pos.Errorf("/auth/type", "auth type %q has no engine implementation (engine.RegisterKind)", a.Type))
	}
	out := &Auth{Spec: a, Type: t, Methods: map[string]*Method{}, EnabledConstant: true, hosts: newHostPolicy(c, a), input: specInputSchemas(c, a)}
	if a.Enabled != nil {
		out.Enabled, out.EnabledConstant = cc.enabled(a)
	}
	names := make([]string, 0, len(a.Methods))
	for name := range a.Methods {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m := a.Methods[name]
		var inputs []string
		if t != nil {
			inputs = t.Methods[name].Inputs
		}
		if cm := cc.method(m, inputs); cm != nil {
			if cm.hosts != nil && cm.hosts != out.hosts {
				// The same compiled body in another auth block: its own policy.
				cp := *cm
				cm = &cp
			}
			cm.hosts = out.hosts
			out.Methods[name] = cm
		}
	}
	cc.diags = append(cc.diags, probeInputHosts(out)...)
	return out
}

// enabled compiles the enabled flag: a boolean, or a formula over the
// connector parameters.
func (cc *compiler) enabled(a *spec.Auth) (*formulas.Mapping, bool) {
	n := a.Enabled
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		return nil, n.Value == "true"
	}
	m, problems := formulas.Compile(n)
	cc.addProblems(a.Pos.File, "enabled", problems)
	if m != nil {
		cc.checkReferences(a.Pos.File, "enabled", m, []string{"connectorParameters"})
	}
	return m, false
}

func (cc *compiler) method(m *spec.Method, inputs []string) *Method {
	key := fmt.Sprintf("%s@%s", m.Name, m.Body)
	if done, ok := cc.done[key]; ok {
		return done
	}
	out := &Method{Spec: m}
	ok := false
	switch {
	case isAPIRequest(m):
		out.Request, ok = cc.apiRequest(m, inputs)
	case m.ImplementationType == spec.ImplMapping:
		config, handlers := m.Mapping, (*yaml.Node)(nil)
		if m.Name == spec.MethodMakeAPIClient {
			config, handlers = splitResponseHandlers(m.Mapping)
		}
		out.Mapping, ok = cc.mapping(m, config, inputs)
		if ok && handlers != nil {
			out.ResponseHandlers, ok = cc.mapping(m, handlers, append(slices.Clone(inputs), "response"))
		}
	case m.ImplementationType == spec.ImplExpr:
		// Compile the expression as the formula {$expr: source}, positioned
		// where the source starts, so both share one implementation.
		// The literal style tells formulas not to place errors itself:
		// m.SourcePos knows where the text is.
		at := m.SourcePos(1, 1)
		n := &yaml.Node{Kind: yaml.MappingNode, Line: at.Line, Column: at.Column, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "$expr", Line: at.Line, Column: at.Column},
			{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.LiteralStyle, Value: m.Source, Line: at.Line, Column: at.Column},
		}}
		out.Mapping, ok = cc.mapping(m, n, inputs)
	case m.ImplementationType == spec.ImplJavaScript:
		out.Script, ok = cc.script(m, inputs)
	}
	if !ok {
		return nil
	}
	cc.done[key] = out
	return out
}

func (cc *compiler) mapping(m *spec.Method, n *yaml.Node, inputs []string) (*formulas.Mapping, bool) {
	if n == nil {
		return nil, false
	}
	compiled, problems := formulas.Compile(n)
	if m.ImplementationType == spec.ImplExpr {
		for i, p := range problems {
			if p.ExprLine > 0 {
				at := m.SourcePos(p.ExprLine, p.ExprColumn)
				problems[i].Line, problems[i].Column = at.Line, at.Column
				problems[i].Message = strings.TrimSuffix(p.Message, fmt.Sprintf(" (line %d, column %d of the expression)", p.ExprLine, p.ExprColumn))
			}
		}
	}
	cc.addProblems(m.Body.File, m.Name, problems)
	if compiled == nil {
		return nil, false
	}
	cc.checkReferences(m.Body.File, m.Name, compiled, inputs)
	return compiled, true
}

// splitResponseHandlers returns makeApiClient's mapping without its
// responseHandlers, and the handlers, flat or under args. The spec's nodes
// are shared, so they are copied, not changed.
func splitResponseHandlers(n *yaml.Node) (config, handlers *yaml.Node) {
	without := func(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
		if m == nil || m.Kind != yaml.MappingNode || len(m.Content) > 0 && strings.HasPrefix(m.Content[0].Value, "$") {
			return m, nil
		}
		cp := *m
		cp.Content = nil
		var found *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				found = m.Content[i+1]
				continue
			}
			cp.Content = append(cp.Content, m.Content[i], m.Content[i+1])
		}
		return &cp, found
	}
	config, handlers = without(n, "responseHandlers")
	if config == n {
		// A formula (or not a mapping): nothing literal to split.
		return config, handlers
	}
	// args: wraps the configuration; its handlers live inside it.
	for i := 0; i+1 < len(config.Content); i += 2 {
		if config.Content[i].Value != "args" {
			continue
		}
		if inner, h := without(config.Content[i+1], "responseHandlers"); h != nil {
			config.Content = slices.Clone(config.Content)
			config.Content[i+1] = inner
			handlers = h
		}
	}
	return config, handlers
}

func (cc *compiler) addProblems(file, what string, problems []formulas.Problem) {
	for _, p := range problems {
		sev := spec.SeverityError
		if p.Severity == formulas.SeverityWarning {
			sev = spec.SeverityWarning
		}
		cc.diags = append(cc.diags, spec.Diagnostic{
			Severity: sev, File: file, Line: p.Line, Column: p.Column, Path: p.Path,
			Message: fmt.Sprintf("%s: %s", what, p.Message),
		})
	}
}

// checkReferences warns about variables a mapping reads that its method does
// not receive, such as a misspelt "credentails".
func (cc *compiler) checkReferences(file, what string, m *formulas.Mapping, inputs []string) {
	if inputs == nil {
		return
	}
	for _, ref := range m.References() {
		if ref.Root == "" || slices.Contains(inputs, ref.Root) {
			continue
		}
		pos := spec.Pos{File: file, Line: ref.Line, Column: ref.Column}
		cc.diags = append(cc.diags, pos.Warnf("", "%s reads %s, but it does not receive %q%s", what, ref.Locator, ref.Root, receives(ref.Root, inputs)))
	}
}

// receives explains what a method gets instead of a variable it reads.
func receives(name string, inputs []string) string {
	if c := suggest.Closest(name, inputs); c != "" {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	return fmt.Sprintf(" (it receives %s)", strings.Join(inputs, ", "))
}

func (cc *compiler) script(m *spec.Method, inputs []string) (*jsrt.Program, bool) {
	name := m.Body.File
	if ext := path.Ext(name); ext != ".js" && ext != ".ts" && ext != ".mjs" {
		// Inline code: the loader follows the declared language.
		name += map[string]string{"typescript": ".ts", "javascript": ".js"}[m.Language]
	}
	prog, problems := jsrt.CompileMethodFS(cc.folder, name, m.Name, []byte(m.Source), spec.MethodAliases(m.Name)...)
	for _, p := range problems {
		at := m.SourcePos(p.Line, p.Column)
		if p.File != name {
			// A file the method imports.
			at = spec.Pos{File: p.File, Line: p.Line, Column: p.Column}
		}
		cc.diags = append(cc.diags, at.Errorf("", "%s: %s", m.Name, p.Message))
	}
	if prog == nil || len(problems) > 0 {
		return nil, false
	}
	if inputs != nil {
		for _, param := range prog.Params() {
			if !slices.Contains(inputs, param) {
				at := m.Body
				if line, col := findWord(m.Source, param); line > 0 {
					at = m.SourcePos(line, col)
				}
				cc.diags = append(cc.diags, at.Warnf("", "%s reads parameter %q, but it does not receive it%s", m.Name, param, receives(param, inputs)))
			}
		}
	}
	return prog, true
}

// findWord returns the 1-based line and column of the first whole-word
// occurrence of word in src, or 0, 0. The destructured parameter names the
// runtime reports carry no position, and their first mention is where the
// parameter list names them.
func findWord(src, word string) (line, col int) {
	isIdent := func(b byte) bool {
		return b == '_' || b == '$' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
	}
	for off := 0; ; {
		i := strings.Index(src[off:], word)
		if i < 0 {
			return 0, 0
		}
		i += off
		end := i + len(word)
		if (i == 0 || !isIdent(src[i-1])) && (end == len(src) || !isIdent(src[end])) {
			line = strings.Count(src[:i], "\n") + 1
			return line, i - strings.LastIndexByte(src[:i], '\n')
		}
		off = end
	}
}
