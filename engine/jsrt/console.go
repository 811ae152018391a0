package jsrt

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// MaxConsoleMessage bounds one console message, in bytes after redaction:
// longer messages are cut.
const MaxConsoleMessage = 16 << 10

// log implements console.<method>(...args).
func (v *vm) log(method string, args goja.Value) {
	if v.logger == nil {
		return
	}
	level := slog.LevelInfo
	switch method {
	case "debug", "trace":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	ctx := v.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if !v.logger.Enabled(ctx, level) {
		return
	}
	obj := args.ToObject(v.r)
	vals := make([]goja.Value, obj.Get("length").ToInteger())
	for i := range vals {
		vals[i] = obj.Get(strconv.Itoa(i))
	}
	msg := v.redact.String(v.format(vals))
	if len(msg) > MaxConsoleMessage {
		cut := MaxConsoleMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…[truncated]"
	}
	v.logger.Log(ctx, level, msg, "file", v.filename, "console", method)
}

// format renders console arguments the way Node's util.format does, roughly:
// printf-style directives in a first string argument, then the remaining
// arguments separated by spaces. It stops early once the text is longer than
// a log message may be (the full text is never needed, and redaction happens
// after formatting, on whole secrets).
func (v *vm) format(vals []goja.Value) string {
	var b strings.Builder
	next := 0
	if len(vals) > 1 {
		if s, ok := vals[0].Export().(string); ok && strings.IndexByte(s, '%') >= 0 {
			next = 1
			for i := 0; i < len(s); i++ {
				c := s[i]
				if c != '%' || i+1 == len(s) {
					b.WriteByte(c)
					continue
				}
				d := s[i+1]
				if d == '%' {
					b.WriteByte('%')
					i++
					continue
				}
				if !strings.ContainsRune("sdifjoOc", rune(d)) || next >= len(vals) {
					b.WriteByte(c)
					continue
				}
				arg := vals[next]
				next++
				i++
				switch d {
				case 'd', 'i', 'f':
					b.WriteString(v.formatNumber(arg, d == 'i'))
				case 'c': // CSS, meaningless in a log
				default:
					b.WriteString(v.formatValue(arg))
				}
			}
		}
	}
	for _, arg := range vals[next:] {
		if b.Len() > MaxConsoleMessage {
			break
		}
		if b.Len() > 0 || next > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.formatValue(arg))
	}
	return b.String()
}

func (v *vm) formatNumber(val goja.Value, integer bool) string {
	n := math.NaN()
	v.r.Try(func() { n = val.ToFloat() })
	if integer {
		n = math.Trunc(n)
	}
	return v.r.ToValue(n).String()
}

// formatValue renders one argument: strings as they are, errors as
// "Name: message", functions as [Function: name], other objects as JSON.
// Code of the method that runs here (getters, toJSON) may throw; that gives
// a placeholder instead.
func (v *vm) formatValue(val goja.Value) string {
	obj, ok := val.(*goja.Object)
	if !ok {
		if val == nil {
			return "undefined"
		}
		return val.String()
	}
	out := "[object " + obj.ClassName() + "]"
	v.r.Try(func() {
		if _, isFn := goja.AssertFunction(obj); isFn {
			name, _ := stringProp(obj, "name")
			if name == "" {
				name = "(anonymous)"
			}
			out = "[Function: " + name + "]"
			return
		}
		if v.r.InstanceOf(obj, v.errorCtor) {
			name, _ := stringProp(obj, "name")
			msg, _ := stringProp(obj, "message")
			out = name
			if msg != "" {
				out += ": " + msg
			}
			if key, ok := stringProp(obj, "key"); ok {
				out += " (" + key + ")"
			}
			return
		}
		s, err := v.stringify(goja.Undefined(), obj)
		rethrowUncatchable(err)
		if err == nil && !goja.IsUndefined(s) {
			out = s.String()
		}
	})
	return out
}

// rethrowUncatchable passes on an interrupt or stack overflow that a
// goja.Callable returned as an error: it must stop the call, not be
// swallowed where a JavaScript exception would be.
func rethrowUncatchable(err error) {
	switch err.(type) {
	case *goja.InterruptedError, *goja.StackOverflowError:
		panic(err)
	}
}
