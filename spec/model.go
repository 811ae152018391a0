// Package spec is the connector model and its loader: it reads a connector
// (a single YAML file, or a directory with spec.yml and auth/ files in
// integration.app's Connector Builder layout), checks it against the format
// and the auth-type table, and reports every problem at its file:line:col.
//
// spec never executes anything and never touches the network; compiling
// formulas, expressions and JavaScript is the engine's job.
package spec

import (
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Layout is how a connector is stored.
type Layout int

const (
	// LayoutFile is a single self-contained YAML file.
	LayoutFile Layout = iota
	// LayoutDirectory is a folder with spec.yml and auth/ files.
	LayoutDirectory
)

// String returns "file" or "directory".
func (l Layout) String() string {
	if l == LayoutDirectory {
		return "directory"
	}
	return "file"
}

// Connector is a loaded connector spec.
type Connector struct {
	Key         string
	Name        string
	Description string
	LogoURI     string
	AppURI      string
	APIDocsURI  string

	// ParametersSchema describes connector parameters (clientId, clientSecret, ...).
	ParametersSchema *JSONSchema
	// UI is the top-level connection UI; auth blocks may have their own.
	UI *UI
	// InputSchema describes connection input not typed by a person.
	InputSchema *JSONSchema
	// Auth is the base auth block; Auth.Options holds the other ways in.
	Auth *Auth

	Layout Layout
	// Flat is set when the spec wrote its auth type and functions at the top
	// level (Membrane's flat connector definition) rather than under auth:.
	Flat bool
	// FS and Root locate the connector's files: Root is the folder (in FS)
	// that filePath values are relative to.
	FS   fs.FS
	Root string
	// SpecFile is the path of the spec file in FS.
	SpecFile string
	// OSDir is the operating-system folder FS is rooted at, when the
	// connector was loaded with LoadPath; it makes file names printable.
	OSDir string
}

// DisplayPath returns a file of the connector (a path in FS, as in Pos) as a
// user would type it.
func (c *Connector) DisplayPath(file string) string {
	if c.OSDir == "" {
		return file
	}
	return displayName(c.OSDir, file)
}

// UI is what a person is asked for when connecting.
type UI struct {
	Schema      *JSONSchema
	Description string
	HelpURI     string
}

// JSONSchema is a JSON Schema written in the connector, checked against the
// meta-schema at load.
type JSONSchema struct {
	// Value is the schema as decoded from YAML.
	Value map[string]any
	// Compiled is ready for validating instances.
	Compiled *jsonschema.Schema
	Pos      Pos
	// PropertyOrder lists the top-level properties in source order, for
	// forms (Value, a map, has none).
	PropertyOrder []string
}

// Auth is one way of connecting: the base auth block or one of its options.
type Auth struct {
	// Key is "" for the base block, the option key otherwise.
	Key string
	// Type is the canonical auth type name (aliases resolved); TypeName is
	// what the spec wrote.
	Type     string
	TypeName string

	Title       string
	Description string
	UI          *UI

	InputSchema             *JSONSchema
	ParametersSchema        *JSONSchema
	CredentialsSchema       *JSONSchema
	CustomCredentialsSchema *JSONSchema

	// Enabled is nil when absent (enabled), a boolean scalar, or a formula
	// mapping over connectorParameters.
	Enabled *yaml.Node
	// ProxyKey is the connector a proxy auth rides on.
	ProxyKey string
	// AllowedHosts are hosts besides the baseUri host that may receive
	// credentials, and the host patterns connection input may fill
	// (*.example.com, {tenant}.example.com); checked with internal/hostpattern.
	AllowedHosts []string
	// APIKeyField is the credentials field an auth resolver's API key fills.
	APIKeyField string

	// Methods by name. For options, methods inherited from the base block
	// are included with Inherited set.
	Methods map[string]*Method
	// Options by key, and their keys in source order.
	Options    map[string]*Auth
	OptionKeys []string

	Pos Pos
}

// Method is one auth method with its body.
type Method struct {
	Name               string
	ImplementationType string
	// Pos is where the method is declared: its key in the spec, or the
	// start of the file it was found in by convention.
	Pos Pos
	// Body is where the body starts: the mapping node, the file, or the
	// first character of inline code.
	Body Pos
	// Mapping is the body of mapping and rest-api-mapping methods.
	Mapping *yaml.Node
	// Source is the body of javascript and expr methods.
	Source string
	// Language is "javascript" or "typescript" for javascript methods.
	Language string
	// blockIndent is the column offset of inline code in a block scalar.
	blockIndent int
	// Inherited is set on an option's method that comes from the base block.
	Inherited bool
}

// SourcePos maps a 1-based line and column inside Source to the position in
// the connector file, so errors in inline code point at the spec itself.
func (m *Method) SourcePos(line, col int) Pos {
	if m.Body.Line == 0 {
		return Pos{File: m.Body.File, Line: line, Column: col}
	}
	p := Pos{File: m.Body.File, Line: m.Body.Line + line - 1, Column: col}
	if line == 1 {
		p.Column = m.Body.Column + col - 1
	} else if m.blockIndent > 0 {
		p.Column = col + m.blockIndent
	}
	return p
}

// Option returns the auth block for an option key, with inherited methods,
// or the base block for "". ok is false for an unknown key.
func (c *Connector) Option(key string) (a *Auth, ok bool) {
	if c.Auth == nil {
		return nil, false
	}
	if key == "" {
		return c.Auth, true
	}
	a, ok = c.Auth.Options[key]
	return a, ok
}
