package check

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/suggest"
)

// checkKeys refuses a key that no field of t reads, at its line:col: a
// misspelt fixture key (`error:` under a request, `credential_expected`)
// would otherwise be dropped and the check would pass without testing what
// the author wrote. Maps (map[string]any) take any key.
func checkKeys(file string, n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n == nil:
		return nil
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			if err := checkKeys(file, item, t.Elem()); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var names []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		slices.Sort(names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("%s:%d:%d: unknown fixture key %q%s (known here: %s)", file, k.Line, k.Column, k.Value, suggest.Hint(k.Value, names), strings.Join(names, ", "))
			}
			if err := checkKeys(file, n.Content[i+1], ft); err != nil {
				return err
			}
		}
	}
	return nil
}
