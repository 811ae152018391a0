package check

import (
	"context"
	"net/url"

	"github.com/connspec/connspec/connectors"
	"github.com/connspec/connspec/spec"
)

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

// ConnectorResults is the outcome of checking one connector.
type ConnectorResults struct {
	Key string
	// Path is where the connector was loaded from.
	Path string
	// Diagnostics are load problems; Missing is set when it has no fixtures.
	Diagnostics spec.Diagnostics
	Missing     bool
	Results     []Result
}

// Path checks every connector under an operating-system path (a connector
// folder or a folder of them).
func Path(ctx context.Context, osPath string) ([]ConnectorResults, spec.Diagnostics) {
	paths, diags := spec.DiscoverPath(osPath)
	var loaded []*spec.Connector
	var out []ConnectorResults
	for _, p := range paths {
		c, ds := spec.LoadPath(p)
		if c == nil {
			out = append(out, ConnectorResults{Path: p, Diagnostics: ds})
			continue
		}
		loaded = append(loaded, c)
	}
	lib := func(key string) *spec.Connector {
		for _, c := range loaded {
			if c.Key == key {
				return c
			}
		}
		if connectors.Has(key) {
			c, _ := spec.Load(connectors.FS(), key)
			return c
		}
		return nil
	}
	for _, c := range loaded {
		cr := ConnectorResults{Key: c.Key, Path: c.DisplayPath(c.Root)}
		fixtures, err := LoadFixtures(c.FS, c.Root)
		switch {
		case err != nil:
			cr.Diagnostics = spec.Diagnostics{{File: c.DisplayPath(c.Root + "/" + FileName), Message: err.Error()}}
		case fixtures == nil || c.Layout != spec.LayoutDirectory:
			cr.Missing = true
		default:
			for _, f := range fixtures {
				f.File = c.DisplayPath(f.File)
			}
			cr.Results = Run(ctx, c, fixtures, lib)
		}
		out = append(out, cr)
	}
	return out, diags
}
