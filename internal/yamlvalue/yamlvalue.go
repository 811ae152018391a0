// Package yamlvalue decodes YAML scalars to the plain values connspec works
// with everywhere (string, int64, float64, bool, nil), the same way for the
// spec loader and the formula compiler.
package yamlvalue

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// Scalar decodes a scalar node by its resolved tag. Integers that do not fit
// int64 become float64; infinities and NaN, which JSON cannot carry, and
// unknown tags keep their text.
func Scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return n.Value
}
