package formulas

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// maxCompareDepth bounds recursion into variable values, which may be
// arbitrarily deep or even cyclic.
const maxCompareDepth = 100

// isBlank reports whether a value counts as empty for $concat and
// $firstNotEmpty: undefined, null or "".
func isBlank(v any, ok bool) bool {
	if !ok || v == nil {
		return true
	}
	s, isStr := v.(string)
	return isStr && s == ""
}

// isEmpty is the $eval isEmpty test: blank, an empty array or an object
// without keys.
func isEmpty(v any, ok bool) bool {
	if isBlank(v, ok) {
		return true
	}
	switch t := v.(type) {
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

// truthy follows JavaScript: undefined, null, false, 0, NaN and "" are false.
func truthy(v any, ok bool) bool {
	if !ok || v == nil {
		return false
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return t != ""
	}
	if f, isNum := number(v); isNum {
		return f != 0 && !math.IsNaN(f)
	}
	return true
}

// number converts Go numeric types (and json.Number) to float64.
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case string, bool, nil, map[string]any, []any:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// integer returns the exact value of Go integer types, so that large int64
// values compare exactly.
func integer(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int:
		return int64(t), true
	case int32:
		return int64(t), true
	}
	return 0, false
}

// numberOrNumericString is number plus strings that parse as numbers, for gt,
// gte, lt and lte.
func numberOrNumericString(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	return number(v)
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// maxCompareSteps bounds the work of one comparison; cyclic variables could
// otherwise make it exponential.
const maxCompareSteps = 100_000

// equal is deep equality with numbers compared by value across Go types.
// Values nested deeper than maxCompareDepth, or too large to compare within
// maxCompareSteps, never compare equal.
func equal(a, b any) bool {
	budget := maxCompareSteps
	return equalWithin(a, b, 0, &budget)
}

func equalWithin(a, b any, depth int, budget *int) bool {
	*budget--
	if depth > maxCompareDepth || *budget < 0 {
		return false
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	if i, ok := integer(a); ok {
		if j, ok := integer(b); ok {
			return i == j
		}
	}
	if f, ok := number(a); ok {
		g, ok := number(b)
		return ok && f == g
	}
	if xs, ok := asList(a); ok {
		ys, ok := asList(b)
		if !ok || len(xs) != len(ys) {
			return false
		}
		for i := range xs {
			if !equalWithin(xs[i], ys[i], depth+1, budget) {
				return false
			}
		}
		return true
	}
	if xm, ok := asObject(a); ok {
		ym, ok := asObject(b)
		if !ok || len(xm) != len(ym) {
			return false
		}
		for k, xv := range xm {
			yv, ok := ym[k]
			if !ok || !equalWithin(xv, yv, depth+1, budget) {
				return false
			}
		}
		return true
	}
	return false
}

// asList returns the elements of an array value.
func asList(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case nil, string, bool, int64, float64, map[string]any:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, false // []byte is text-like, not a list
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, true
	}
	return nil, false
}

// asObject returns the fields of an object value.
func asObject(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case nil, string, bool, int64, float64, []any:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		out[it.Key().String()] = it.Value().Interface()
	}
	return out, true
}

// appendString appends the string form of v: text as is, numbers as
// JavaScript prints them, null and undefined as nothing, objects and arrays
// as JSON.
func appendString(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return b
	case string:
		return append(b, t...)
	case bool:
		return strconv.AppendBool(b, t)
	case int64:
		return strconv.AppendInt(b, t, 10)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case float64:
		return appendJSNumber(b, t)
	case json.Number:
		return append(b, t...)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return appendJSNumber(b, rv.Float())
	case reflect.String:
		return append(b, rv.String()...)
	case reflect.Bool:
		return strconv.AppendBool(b, rv.Bool())
	}
	// encoding/json reports cycles and unsupported values as errors.
	j, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return append(b, j...)
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(appendString(nil, v))
}

func appendJSNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// deepCopy copies maps and slices built by this package (constants from the
// mapping), so that results never alias the compiled Mapping.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// Truthy reports whether v is true the way formulas judge conditions (and
// JavaScript does): nil, false, 0, NaN and "" are false, everything else,
// empty objects and arrays included, is true.
func Truthy(v any) bool { return truthy(v, true) }
