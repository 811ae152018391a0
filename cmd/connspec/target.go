package main

import (
	"errors"
	"os"

	"github.com/connspec/connspec/connectors"
	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// connectorArg is one PATH argument of a command: a file or directory on
// disk or, when nothing on disk has that name, the key of a bundled
// connector. Every command that takes PATH resolves it here, so they all
// accept the same things.
type connectorArg struct {
	path    string
	bundled bool
}

// resolveConnectorArg decides what path names. A path on disk wins over a
// bundled key of the same name (as a local file shadows a builtin); a path
// that exists but cannot be read is an error, never a silent fallback to the
// bundled connector.
func resolveConnectorArg(path string) (connectorArg, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return connectorArg{path: path}, nil
	case !errors.Is(err, os.ErrNotExist):
		return connectorArg{}, usageErrorf("%s: %v", path, errors.Unwrap(err))
	case connectors.Has(path):
		return connectorArg{path: path, bundled: true}, nil
	}
	return connectorArg{}, usageErrorf("%s: no such file, directory or bundled connector", path)
}

// resolveConnectorArgs resolves every argument before any work, so a typo in
// the last one is reported before output for the first.
func resolveConnectorArgs(paths []string) ([]connectorArg, error) {
	args := make([]connectorArg, 0, len(paths))
	for _, p := range paths {
		a, err := resolveConnectorArg(p)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	return args, nil
}

// validate loads and compiles the connectors a names (for a directory of
// connectors, each of them), as `connspec validate` reports them.
func (a connectorArg) validate() ([]*engine.Connector, spec.Diagnostics) {
	if !a.bundled {
		return engine.ValidatePath(a.path)
	}
	c, diags := spec.Load(connectors.FS(), a.path)
	if c == nil {
		return nil, diags
	}
	cc, more := engine.Compile(c)
	diags = append(diags, more...).Sort()
	if cc == nil {
		return nil, diags
	}
	return []*engine.Connector{cc}, diags
}

// load registers the connector a names with eng, as `test`, `request` and
// `connect` use it.
func (a connectorArg) load(eng *engine.Engine) (*engine.Connector, spec.Diagnostics) {
	if a.bundled {
		return eng.LoadFS(connectors.FS(), a.path)
	}
	return eng.Load(a.path)
}
