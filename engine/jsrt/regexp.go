package jsrt

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// Regular expressions that Go's regexp (RE2, linear time) cannot run, those
// with backreferences or lookaround, goja hands to regexp2, a backtracking
// engine whose matches goja's Interrupt cannot stop: /^(?:(a+)+)\1?b$/ on 34
// a's runs for hours. The prelude replaces RegExp.prototype.exec, which makes
// goja take its generic paths, so that test, match, matchAll, replace, search
// and split all go through exec; exec runs RE2-compatible patterns natively
// and the others here, on the vm's own regexp2 copy whose MatchTimeout is the
// call's remaining time.

// regexpClockSlack is how late regexp2 may notice its timeout (its clock
// ticks every 100 ms).
const regexpClockSlack = regexp2.DefaultClockPeriod

const maxCachedRegexps = 256

// backtracking is a compiled pattern that needs regexp2; nil marks one that
// goja runs natively.
type backtracking struct {
	re *regexp2.Regexp
}

// regexpBacktracks reports whether goja would run the pattern with regexp2.
func (v *vm) regexpBacktracks(source, flags string) bool {
	return v.backtracking(source, flags) != nil
}

// regexpExec implements exec for a RegExp that needs backtracking, whose
// intrinsic source and flags the prelude passes along: it returns null or the
// match array, as RegExp.prototype.exec does.
func (v *vm) regexpExec(rx *goja.Object, s goja.Value, source, flags string) goja.Value {
	b := v.backtracking(source, flags)
	r := v.r
	global, sticky, unicode := strings.ContainsRune(flags, 'g'), strings.ContainsRune(flags, 'y'), strings.ContainsRune(flags, 'u')
	setLastIndex := func(i int) {
		if global || sticky {
			if err := rx.Set("lastIndex", i); err != nil {
				panic(err)
			}
		}
	}
	text := utf16Units(s)
	start := int64(0)
	if global || sticky {
		start = rx.Get("lastIndex").ToInteger()
		start = max(start, 0)
	}
	if start > int64(len(text)) {
		setLastIndex(0)
		return goja.Null()
	}
	runes, pos := text, []int(nil)
	runeStart := int(start)
	if unicode {
		runes, pos = decodeUTF16(text)
		runeStart = sort.SearchInts(pos, int(start))
	}
	b.re.MatchTimeout = v.regexpTimeout()
	m, err := b.re.FindRunesMatchStartingAt(runes, runeStart)
	if err != nil {
		// Out of time: stop the method as its time limit does.
		r.Interrupt(ErrTimeout)
		return goja.Null()
	}
	unit := func(i int) int {
		if pos != nil {
			return pos[i]
		}
		return i
	}
	if m == nil || sticky && unit(m.RuneIndex) != int(start) {
		setLastIndex(0)
		return goja.Null()
	}
	str := s.(goja.String)
	groups := m.Groups()
	vals := make([]any, len(groups))
	var named *goja.Object
	for i, g := range groups {
		val := goja.Undefined()
		if len(g.Captures) > 0 {
			val = str.Substring(unit(g.RuneIndex), unit(g.RuneIndex+g.RuneLength))
		}
		vals[i] = val
		if i > 0 && g.Name != "" && !isDigits(g.Name) {
			if named == nil {
				named = r.NewObject()
				must(named.SetPrototype(nil))
			}
			must(named.DefineDataProperty(g.Name, val, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE))
		}
	}
	setLastIndex(unit(m.RuneIndex + m.RuneLength))
	arr := r.NewArray(vals...)
	must(arr.DefineDataProperty("index", r.ToValue(unit(m.RuneIndex)), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE))
	must(arr.DefineDataProperty("input", s, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE))
	groupsVal := goja.Undefined()
	if named != nil {
		groupsVal = named
	}
	must(arr.DefineDataProperty("groups", groupsVal, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE))
	return arr
}

// regexpTimeout is what is left of the call's time, less regexp2's clock
// slack, so that a match ends within the call's limit.
func (v *vm) regexpTimeout() time.Duration {
	d := time.Millisecond
	if deadline, ok := v.ctx.Deadline(); ok {
		d = max(time.Until(deadline)-regexpClockSlack, d)
	}
	return d
}

// backtracking returns the regexp2 form of a pattern that goja does not run
// with RE2, compiling and caching it in v; nil when RE2 runs it.
func (v *vm) backtracking(source, flags string) *backtracking {
	key := flags + "/" + source
	if b, ok := v.regexps[key]; ok {
		return b
	}
	b := compileBacktracking(source, flags)
	if v.regexps == nil || len(v.regexps) >= maxCachedRegexps {
		v.regexps = make(map[string]*backtracking)
	}
	v.regexps[key] = b
	return b
}

// compileBacktracking decides as goja's compileRegexp does whether the
// pattern needs regexp2, and compiles it with the same options if so.
func compileBacktracking(source, flags string) *backtracking {
	has := func(c rune) bool { return strings.ContainsRune(flags, c) }
	pattern := source
	if !has('u') {
		pattern = astralToSurrogates(pattern)
	}
	if re2, err := parser.TransformRegExp(pattern, has('s'), has('u')); err == nil {
		var re2Flags string
		for _, f := range "msi" {
			if has(f) {
				re2Flags += string(f)
			}
		}
		if re2Flags != "" {
			re2 = "(?" + re2Flags + ":" + re2 + ")"
		}
		if _, err := regexp.Compile(re2); err == nil {
			return nil
		}
	} else if !errors.As(err, new(parser.RegexpErrorIncompatible)) {
		return nil // invalid: goja refused it when the RegExp was made
	}
	opts := regexp2.ECMAScript
	for f, o := range map[rune]regexp2.RegexOptions{'m': regexp2.Multiline, 's': regexp2.Singleline, 'i': regexp2.IgnoreCase, 'u': regexp2.Unicode} {
		if has(f) {
			opts |= o
		}
	}
	re, err := regexp2.Compile(pattern, opts)
	if err != nil {
		return nil // goja compiled it, so this does not happen
	}
	return &backtracking{re: re}
}

// astralToSurrogates writes characters outside the BMP as \u surrogate pairs,
// as goja does for patterns without the u flag.
func astralToSurrogates(p string) string {
	var sb strings.Builder
	for i, r := range p {
		if r <= 0xFFFF {
			if sb.Len() > 0 {
				sb.WriteRune(r)
			}
			continue
		}
		if sb.Len() == 0 {
			sb.WriteString(p[:i])
		}
		a, b := utf16.EncodeRune(r)
		sb.WriteString(`\u` + strconv.FormatInt(int64(a), 16) + `\u` + strconv.FormatInt(int64(b), 16))
	}
	if sb.Len() == 0 {
		return p
	}
	return sb.String()
}

// utf16Units returns a JavaScript string's UTF-16 code units, one per rune,
// which is how goja hands strings to regexp2.
func utf16Units(s goja.Value) []rune {
	str := s.String()
	gs, ok := s.(goja.String)
	if !ok || len(str) == gs.Length() { // ASCII
		out := make([]rune, len(str))
		for i := 0; i < len(str); i++ {
			out[i] = rune(str[i])
		}
		return out
	}
	out := make([]rune, gs.Length())
	for i := range out {
		out[i] = rune(gs.CharAt(i))
	}
	return out
}

// decodeUTF16 joins surrogate pairs into code points and returns, for each
// code point (and the end), its offset in units.
func decodeUTF16(units []rune) (runes []rune, pos []int) {
	runes = make([]rune, 0, len(units))
	pos = make([]int, 0, len(units)+1)
	for i := 0; i < len(units); i++ {
		pos = append(pos, i)
		c := units[i]
		if utf16.IsSurrogate(c) && i+1 < len(units) {
			if r := utf16.DecodeRune(c, units[i+1]); r != utf8.RuneError {
				runes = append(runes, r)
				i++
				continue
			}
		}
		runes = append(runes, c)
	}
	return runes, append(pos, len(units))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
