package formulas

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// segment is one step of a locator. Both forms are precomputed so that a
// key can index an array ("a.0") and an index can read a map ("a[0]").
type segment struct {
	key   string
	index int // -1 when key is not a non-negative decimal number
}

// locator is a parsed variable path such as "$.a.b[0]".
type locator struct {
	text string
	segs []segment
}

// root returns the first key of the locator, or "" when it reads the whole
// variable set.
func (l locator) root() string {
	if len(l.segs) == 0 {
		return ""
	}
	return l.segs[0].key
}

func keySegment(k string) segment {
	s := segment{key: k, index: -1}
	if k != "" && len(k) <= 9 && strings.Trim(k, "0123456789") == "" {
		s.index, _ = strconv.Atoi(k)
	}
	return s
}

// parseLocator parses "$", "$.", "$.a.b[0]", "a.b[0]" and "$[0]"; "\." and
// "\[" (and "\]", "\\") put those characters inside a key.
func parseLocator(text string) (locator, error) {
	l := locator{text: text}
	rest := text
	switch {
	case rest == "$" || rest == "$.":
		return l, nil
	case strings.HasPrefix(rest, "$."):
		rest = rest[2:]
	case strings.HasPrefix(rest, "$["):
		rest = rest[1:]
	}
	if rest == "" {
		return l, fmt.Errorf("empty locator")
	}
	var key strings.Builder
	inKey := false // a key segment has started (possibly still empty)
	afterIndex := false
	flush := func() error {
		if !inKey {
			return nil
		}
		if key.Len() == 0 {
			return fmt.Errorf("locator %q has an empty key", text)
		}
		l.segs = append(l.segs, keySegment(key.String()))
		key.Reset()
		inKey = false
		return nil
	}
	start := true
	for i := 0; i < len(rest); i++ {
		ch := rest[i]
		switch ch {
		case '\\':
			if i+1 < len(rest) && strings.IndexByte(`.[]\`, rest[i+1]) >= 0 {
				i++
				ch = rest[i]
			}
			key.WriteByte(ch)
			inKey, afterIndex, start = true, false, false
		case '.':
			if start || (!inKey && !afterIndex) {
				return l, fmt.Errorf("locator %q has an empty key", text)
			}
			if err := flush(); err != nil {
				return l, err
			}
			inKey, afterIndex = true, false // the next key must not be empty
		case '[':
			if inKey && key.Len() == 0 && !start {
				return l, fmt.Errorf("locator %q has an empty key", text)
			}
			if err := flush(); err != nil {
				return l, err
			}
			end := strings.IndexByte(rest[i:], ']')
			if end < 0 {
				return l, fmt.Errorf("locator %q has an unclosed [", text)
			}
			digits := rest[i+1 : i+end]
			n, err := strconv.Atoi(digits)
			if err != nil || n < 0 || strings.Trim(digits, "0123456789") != "" {
				return l, fmt.Errorf("locator %q has an invalid index [%s]; use \\[ for a bracket inside a key", text, digits)
			}
			l.segs = append(l.segs, segment{key: digits, index: n})
			i += end
			if i+1 < len(rest) && rest[i+1] != '.' && rest[i+1] != '[' {
				return l, fmt.Errorf("locator %q needs . or [ after ]", text)
			}
			afterIndex, start = true, false
		default:
			key.WriteByte(ch)
			inKey, afterIndex, start = true, false, false
		}
	}
	if err := flush(); err != nil {
		return l, err
	}
	return l, nil
}

// get follows the segments from v. The boolean is false when the path does
// not exist (undefined).
func (l *locator) get(v any) (any, bool) {
	for i := range l.segs {
		var ok bool
		if v, ok = child(v, &l.segs[i]); !ok {
			return nil, false
		}
	}
	return v, true
}

// child reads one step; map[string]any and []any avoid reflection.
func child(v any, s *segment) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		x, ok := t[s.key]
		return x, ok
	case []any:
		if s.index < 0 || s.index >= len(t) {
			return nil, false
		}
		return t[s.index], true
	case map[string]string:
		x, ok := t[s.key]
		return x, ok
	case []string:
		if s.index < 0 || s.index >= len(t) {
			return nil, false
		}
		return t[s.index], true
	case nil, string, bool, int, int64, float64:
		return nil, false
	}
	return reflectChild(reflect.ValueOf(v), s)
}

func reflectChild(rv reflect.Value, s *segment) (any, bool) {
	for range 8 {
		if rv.Kind() != reflect.Pointer && rv.Kind() != reflect.Interface {
			break
		}
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		kt := rv.Type().Key()
		if kt.Kind() != reflect.String {
			return nil, false
		}
		x := rv.MapIndex(reflect.ValueOf(s.key).Convert(kt))
		if !x.IsValid() {
			return nil, false
		}
		return x.Interface(), true
	case reflect.Slice, reflect.Array:
		if s.index < 0 || s.index >= rv.Len() {
			return nil, false
		}
		return rv.Index(s.index).Interface(), true
	}
	return nil, false
}
