// Package check replays a connector's fixtures (fixtures.yml) against an
// in-process mock of the provider, with the connector files unchanged:
// the engine's transport is replaced, so the connector's real hostnames
// reach the mock and nothing reaches the network. See docs/fixtures.md.
package check

import (
	"fmt"
	"io/fs"
	"path"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// FileName is the fixture file of a connector folder.
const FileName = "fixtures.yml"

// Fixture is one sample connection and what the provider must see.
type Fixture struct {
	Name                string         `yaml:"name"`
	Option              string         `yaml:"option"`
	ConnectorParameters map[string]any `yaml:"connectorParameters"`
	Input               map[string]any `yaml:"input"`
	Account             *struct {
		ID       string         `yaml:"id"`
		Metadata map[string]any `yaml:"metadata"`
	} `yaml:"account"`
	Credentials map[string]any `yaml:"credentials"`
	// Base is the connection a proxy connector rides on.
	Base *struct {
		Connector           string         `yaml:"connector"`
		ConnectorParameters map[string]any `yaml:"connectorParameters"`
		Input               map[string]any `yaml:"input"`
		Credentials         map[string]any `yaml:"credentials"`
	} `yaml:"base"`
	Authorize *struct {
		URL      string         `yaml:"url"`
		Query    map[string]any `yaml:"query"`
		Callback map[string]any `yaml:"callback"`
	} `yaml:"authorize"`
	CredentialsExpected map[string]any `yaml:"credentials_expected"`
	Requests            []*Exchange    `yaml:"requests"`
	Calls               []*Call        `yaml:"calls"`
	Test                string         `yaml:"test"`
	Refresh             *struct {
		CredentialsExpected map[string]any `yaml:"credentials_expected"`
	} `yaml:"refresh"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
	// lines of sub-entries, for reports
	authorizeLine, credentialsLine, testLine, refreshLine int
}

// Exchange is a request the provider expects and its canned answer.
type Exchange struct {
	Method  string         `yaml:"method"`
	URL     string         `yaml:"url"`
	Query   map[string]any `yaml:"query"`
	Headers map[string]any `yaml:"headers"`
	Form    map[string]any `yaml:"form"`
	JSON    map[string]any `yaml:"json"`
	// Times is the least number of uses: a number (default 1) or "any".
	Times   any `yaml:"times"`
	Respond struct {
		Status  int               `yaml:"status"`
		Headers map[string]string `yaml:"headers"`
		JSON    any               `yaml:"json"`
		Body    *string           `yaml:"body"`
	} `yaml:"respond"`

	Line int `yaml:"-"`
}

// Call is a request the check sends through the authenticated client.
type Call struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Status int    `yaml:"status"`
	// JSON is sent as the request body.
	JSON any `yaml:"json"`
	// Error is the connection error key the call must end with, when a
	// response handler turns the answer into an error.
	Error string `yaml:"error"`
	Line  int    `yaml:"-"`
}

// LoadFixtures reads dir/fixtures.yml. It returns nil, nil when the file
// does not exist.
func LoadFixtures(fsys fs.FS, dir string) ([]*Fixture, error) {
	file := path.Join(dir, FileName)
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty", file)
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i]; k.Value != "fixtures" {
				return nil, fmt.Errorf("%s:%d:%d: unknown key %q: a fixture file has only a `fixtures:` list", file, k.Line, k.Column, k.Value)
			}
		}
	}
	list := mapValue(root, "fixtures")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: expected a `fixtures:` list", file, root.Line)
	}
	var out []*Fixture
	for _, n := range list.Content {
		f := &Fixture{}
		if err := checkKeys(file, n, reflect.TypeFor[Fixture]()); err != nil {
			return nil, err
		}
		if err := n.Decode(f); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n.Line, err)
		}
		f.File, f.Line = file, n.Line
		f.authorizeLine = lineOf(n, "authorize", n.Line)
		f.credentialsLine = lineOf(n, "credentials_expected", n.Line)
		f.testLine = lineOf(n, "test", n.Line)
		f.refreshLine = lineOf(n, "refresh", n.Line)
		if reqs := mapValue(n, "requests"); reqs != nil {
			for i, r := range reqs.Content {
				if i < len(f.Requests) {
					f.Requests[i].Line = r.Line
				}
			}
		}
		if calls := mapValue(n, "calls"); calls != nil {
			for i, c := range calls.Content {
				if i < len(f.Calls) {
					f.Calls[i].Line = c.Line
				}
			}
		}
		if f.Name == "" {
			f.Name = fmt.Sprintf("fixture at line %d", n.Line)
		}
		out = append(out, f)
	}
	return out, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func lineOf(n *yaml.Node, key string, def int) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return def
}
