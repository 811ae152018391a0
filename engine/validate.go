package engine

import "github.com/connspec/connspec/spec"

// ValidatePath loads and compiles every connector at osPath: a connector
// file, a connector directory, or a directory of connectors (searched
// recursively). It is what `connspec validate` runs: nothing is executed
// and nothing touches the network. Connectors with errors are left out of
// the result; every problem is in the diagnostics, sorted.
func ValidatePath(osPath string) ([]*Connector, spec.Diagnostics) {
	paths, diags := spec.DiscoverPath(osPath)
	var out []*Connector
	for _, p := range paths {
		c, ds := spec.LoadPath(p)
		diags = append(diags, ds...)
		if c == nil {
			continue
		}
		cc, ds := Compile(c)
		for i := range ds {
			ds[i].File = c.DisplayPath(ds[i].File)
		}
		diags = append(diags, ds...)
		if cc != nil {
			out = append(out, cc)
		}
	}
	byKey := map[string]*Connector{}
	for _, c := range out {
		byKey[c.Spec.Key] = c
	}
	diags = append(diags, proxyCycles(byKey, nil)...)
	return out, diags.Sort()
}
