package jsrt

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/dop251/goja"
)

// MaxJSONDepth bounds the nesting of arrays and objects that JSON.parse reads
// and JSON.stringify writes in a method. goja does both by recursion on the
// Go stack, where a few million levels are a fatal stack overflow, not an
// error; the scan below refuses such a text before goja's parser sees it.
const MaxJSONDepth = 1000

// jsonDepthError is the RangeError for JSON nested too deeply.
func (v *vm) jsonDepthError(what string) {
	v.throw("RangeError", fmt.Sprintf("%s: JSON nested more than %d levels", what, MaxJSONDepth))
}

// throw throws a new error of a standard class.
func (v *vm) throw(class, msg string) {
	obj, err := v.r.New(v.stdErrors[class], v.r.ToValue(msg))
	if err != nil {
		panic(err)
	}
	panic(obj)
}

// jsonScan checks a text before JSON.parse: nesting at most MaxJSONDepth
// deep and at most MaxArrayLength values (each of which costs goja far more
// than its bytes in the text). It does not validate; goja's parser does.
func (v *vm) jsonScan(text goja.Value) {
	j := jsonScanner{values: 1}
	if s := text.String(); isASCII(text, s) {
		for i := 0; i < len(s) && j.maxDepth <= MaxJSONDepth; i++ {
			j.step(uint16(s[i]))
		}
	} else {
		gs := text.(goja.String)
		for i := 0; i < gs.Length() && j.maxDepth <= MaxJSONDepth; i++ {
			j.step(gs.CharAt(i))
		}
	}
	depth, values := j.maxDepth, j.values
	if depth > MaxJSONDepth {
		v.jsonDepthError("JSON.parse")
	}
	if values > v.maxArray {
		v.fail("JSON.parse", float64(values), int64(v.maxArray), "values")
	}
}

// jsonScanner counts the deepest nesting and the number of values (roughly:
// separators and opening brackets) outside strings, one UTF-16 unit at a
// time.
type jsonScanner struct {
	depth, maxDepth, values int
	inString, escaped       bool
}

func (j *jsonScanner) step(c uint16) {
	if j.inString {
		switch {
		case j.escaped:
			j.escaped = false
		case c == '\\':
			j.escaped = true
		case c == '"':
			j.inString = false
		}
		return
	}
	switch c {
	case '"':
		j.inString = true
	case '[', '{':
		j.depth++
		j.values++
		j.maxDepth = max(j.maxDepth, j.depth)
	case ']', '}':
		j.depth--
	case ',':
		j.values++
	}
}

// isASCII reports whether the JavaScript string val, whose Go form is s, has
// only ASCII characters (then s holds its UTF-16 units one per byte).
func isASCII(val goja.Value, s string) bool {
	gs, ok := val.(goja.String)
	return !ok || len(s) == gs.Length()
}

// jsonStringify is JSON.stringify (ECMA-262 25.5.2) with two bounds goja's
// lacks: nesting deeper than MaxJSONDepth is a RangeError, and output past
// MaxStringLength bytes is refused as it grows, so that a value that refers
// to one big string (or object) thousands of times cannot make one call
// allocate gigabytes. Every step writes at least one byte, so the budget
// bounds the work too.
func (v *vm) jsonStringify(value, replacer, space goja.Value) goja.Value {
	w := &jsonWriter{v: v, max: v.maxString, stack: map[*goja.Object]bool{}}
	if obj, ok := replacer.(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(obj); ok {
			w.replacer = fn
		} else if obj.ClassName() == "Array" {
			w.keys = w.propertyList(obj)
		}
	}
	w.gap = v.jsonGap(space)
	holder := v.r.NewObject()
	must(holder.Set("", value))
	if !w.value(holder, "", value) {
		return goja.Undefined()
	}
	return v.r.ToValue(w.b.String())
}

type jsonWriter struct {
	v        *vm
	b        strings.Builder
	max      int
	replacer goja.Callable
	keys     []string // from an array replacer; nil: every own enumerable key
	hasKeys  bool
	gap      string
	indent   string
	stack    map[*goja.Object]bool
}

func (w *jsonWriter) propertyList(arr *goja.Object) []string {
	n := arr.Get("length").ToInteger()
	w.v.checkArray(n, "JSON.stringify")
	seen := map[string]bool{}
	keys := []string{}
	for i := range n {
		item := arr.Get(strconv.FormatInt(i, 10))
		var key string
		switch x := item.(type) {
		case *goja.Object:
			if c := x.ClassName(); c != "String" && c != "Number" {
				continue
			}
			key = item.String()
		default:
			if item == nil || !isStringOrNumber(item) {
				continue
			}
			key = item.String()
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	w.hasKeys = true
	return keys
}

func isStringOrNumber(val goja.Value) bool {
	switch val.Export().(type) {
	case string, int64, float64:
		return true
	}
	return false
}

// jsonGap is the indentation that the space argument asks for.
func (v *vm) jsonGap(space goja.Value) string {
	if obj, ok := space.(*goja.Object); ok {
		switch obj.ClassName() {
		case "Number":
			space = v.r.ToValue(space.ToFloat())
		case "String":
			space = v.r.ToValue(space.String())
		}
	}
	if space == nil {
		return ""
	}
	switch x := space.Export().(type) {
	case int64:
		return strings.Repeat(" ", int(min(max(x, 0), 10)))
	case float64:
		return strings.Repeat(" ", int(min(max(x, 0), 10)))
	case string:
		if units := utf16.Encode([]rune(x)); len(units) > 10 {
			return string(utf16.Decode(units[:10]))
		}
		return x
	}
	return ""
}

func (w *jsonWriter) write(s string) {
	if w.b.Len()+len(s) > w.max {
		w.v.fail("JSON.stringify", float64(w.b.Len()+len(s)), int64(w.max), "bytes")
	}
	w.b.WriteString(s)
}

func (w *jsonWriter) call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	out, err := fn(this, args...)
	if err != nil {
		panic(err)
	}
	return out
}

// value writes SerializeJSONProperty(holder, key); false means undefined,
// of which nothing is written.
func (w *jsonWriter) value(holder *goja.Object, key string, val goja.Value) bool {
	r := w.v.r
	if obj, ok := val.(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(obj.Get("toJSON")); ok {
			val = w.call(fn, obj, r.ToValue(key))
		}
	}
	if w.replacer != nil {
		val = w.call(w.replacer, holder, r.ToValue(key), val)
	}
	if obj, ok := val.(*goja.Object); ok {
		switch obj.ClassName() {
		case "Number":
			val = r.ToValue(val.ToFloat())
		case "String":
			val = r.ToValue(val.String())
		case "Boolean":
			val = r.ToValue(val.ToBoolean())
		}
	}
	if val == nil || goja.IsUndefined(val) {
		return false
	}
	if goja.IsNull(val) {
		w.write("null")
		return true
	}
	obj, isObj := val.(*goja.Object)
	if !isObj {
		switch x := val.Export().(type) {
		case bool:
			w.write(strconv.FormatBool(x))
		case string:
			w.quote(val)
		case int64:
			w.write(strconv.FormatInt(x, 10))
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				w.write("null")
			} else {
				w.write(val.String())
			}
		default:
			return false // symbols
		}
		return true
	}
	if _, ok := goja.AssertFunction(obj); ok {
		return false
	}
	if w.stack[obj] {
		w.v.throw("TypeError", "Converting circular structure to JSON")
	}
	if len(w.stack) >= MaxJSONDepth {
		w.v.jsonDepthError("JSON.stringify")
	}
	w.stack[obj] = true
	defer delete(w.stack, obj)
	outer := w.indent
	w.indent += w.gap
	defer func() { w.indent = outer }()
	if obj.ClassName() == "Array" {
		w.array(obj)
	} else {
		w.object(obj)
	}
	return true
}

func (w *jsonWriter) newline() {
	if w.gap != "" {
		w.write("\n")
		w.write(w.indent)
	}
}

func (w *jsonWriter) array(obj *goja.Object) {
	n := obj.Get("length").ToInteger()
	w.write("[")
	for i := range n {
		if i > 0 {
			w.write(",")
		}
		w.newline()
		k := strconv.FormatInt(i, 10)
		if !w.value(obj, k, obj.Get(k)) {
			w.write("null")
		}
	}
	w.close(n > 0, "]")
}

func (w *jsonWriter) object(obj *goja.Object) {
	keys := w.keys
	if !w.hasKeys {
		keys = obj.Keys()
	}
	w.write("{")
	wrote := false
	for _, k := range keys {
		mark := w.b.Len()
		if wrote {
			w.write(",")
		}
		w.newline()
		w.quote(w.v.r.ToValue(k))
		w.write(":")
		if w.gap != "" {
			w.write(" ")
		}
		if w.value(obj, k, obj.Get(k)) {
			wrote = true
		} else {
			truncate(&w.b, mark)
		}
	}
	w.close(wrote, "}")
}

func (w *jsonWriter) close(nonEmpty bool, bracket string) {
	if nonEmpty && w.gap != "" {
		w.write("\n")
		w.write(w.indent[:len(w.indent)-len(w.gap)])
	}
	w.write(bracket)
}

// truncate cuts b back to n bytes.
func truncate(b *strings.Builder, n int) {
	s := b.String()[:n]
	b.Reset()
	b.WriteString(s)
}

// quote writes a JavaScript string as a JSON string (QuoteJSONString: lone
// surrogates as \u escapes), after checking its exact size.
func (w *jsonWriter) quote(val goja.Value) {
	s := val.String()
	if isASCII(val, s) {
		size := len(s) + 2
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
				size += len(jsonChar(rune(c))) - 1
			}
		}
		w.reserve(size)
		w.b.WriteByte('"')
		start := 0
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
				w.b.WriteString(s[start:i])
				w.b.WriteString(jsonChar(rune(c)))
				start = i + 1
			}
		}
		w.b.WriteString(s[start:])
		w.b.WriteByte('"')
		return
	}
	gs := val.(goja.String)
	units := make([]uint16, gs.Length())
	for i := range units {
		units[i] = gs.CharAt(i)
	}
	var out strings.Builder
	out.WriteByte('"')
	for i := 0; i < len(units); i++ {
		c := rune(units[i])
		if utf16.IsSurrogate(c) {
			if i+1 < len(units) && c < 0xDC00 && units[i+1] >= 0xDC00 && units[i+1] <= 0xDFFF {
				out.WriteRune(utf16.DecodeRune(c, rune(units[i+1])))
				i++
			} else {
				fmt.Fprintf(&out, `\u%04x`, c)
			}
		} else {
			out.WriteString(jsonChar(c))
		}
		if out.Len() > w.max {
			w.v.fail("JSON.stringify", float64(w.b.Len()+out.Len()), int64(w.max), "bytes")
		}
	}
	out.WriteByte('"')
	w.write(out.String())
}

func (w *jsonWriter) reserve(n int) {
	if w.b.Len()+n > w.max {
		w.v.fail("JSON.stringify", float64(w.b.Len()+n), int64(w.max), "bytes")
	}
}

var jsonControl = func() (t [0x20]string) {
	for i := range t {
		t[i] = fmt.Sprintf(`\u%04x`, i)
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	return t
}()

// jsonChar is one character as it appears in a JSON string.
func jsonChar(c rune) string {
	switch {
	case c < 0x20:
		return jsonControl[c]
	case c == '"':
		return `\"`
	case c == '\\':
		return `\\`
	}
	return string(c)
}
