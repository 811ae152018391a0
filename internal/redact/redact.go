// Package redact replaces known secret values in text with [REDACTED]:
// as they are, escaped as APIs escape them, in base64 and hex, and as long
// fragments of any of those. The engine (errors, logs, the proxy's error
// bodies) and the JavaScript sandbox (console output, exceptions) share it.
package redact

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// minSecretLen: shorter values (empty strings, "1", "us") are too common to
// redact without destroying the text around them.
const minSecretLen = 4

const (
	// fragmentMin is the shortest piece of a secret that is redacted on its
	// own (a truncated echo, "sk_live_4eC39HqLyjW…"): shorter pieces are too
	// likely to be ordinary text.
	fragmentMin = 10
	// fragmentSlack: a piece of a secret is redacted when it leaves fewer
	// than this many bytes of the secret unknown (all but the last few
	// characters could be guessed; half of a long token cannot).
	fragmentSlack = 12
	// unescapeRounds bounds how often escapes are undone (a secret
	// percent-encoded twice, or a JSON string inside a URL).
	unescapeRounds = 3
)

// Mark is what a secret is replaced with.
const Mark = "[REDACTED]"

// Redactor replaces known secret values in text with [REDACTED]: as they
// are, escaped as APIs escape them (percent-encoding in either case, JSON
// and PHP escapes such as \/ and \u0041, Python's \x41 and \', HTML
// entities, even twice over), in base64 (standard, URL-safe, padded or not,
// at any alignment inside a longer blob, so "user:pass" is covered) and in
// hex, and as long fragments of any of those (an echo cut short).
type Redactor struct {
	// secrets are the values as given (what with and JavaScript's own
	// redaction start from).
	secrets []string

	once    sync.Once
	needles []needle // built on first use: most clients never redact
}

// needle is one form of a secret to look for: runs of at least min bytes
// of text are redacted (min == len(text): only the whole form).
type needle struct {
	text string
	min  int
}

// New returns a Redactor for secrets; values shorter than 4 bytes and
// repeats are left out.
func New(secrets ...string) *Redactor {
	set := map[string]bool{}
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) >= minSecretLen && !set[s] {
			set[s] = true
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// With returns a Redactor that also knows extra secrets (r may be nil);
// with none, it is r itself (a Redactor never changes).
func (r *Redactor) With(extra ...string) *Redactor {
	if len(extra) == 0 && r != nil {
		return r
	}
	return New(append(r.Secrets(), extra...)...)
}

// Secrets returns the secrets r knows, as given (nil for a nil r).
func (r *Redactor) Secrets() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.secrets)
}

// String returns s with every form of every secret replaced by Mark. A nil
// Redactor returns s unchanged. It is safe for concurrent use.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.secrets) == 0 || len(s) < minSecretLen {
		return s
	}
	r.once.Do(r.build)
	spans := r.find(s, nil, nil)
	if plain, start, end := unescapeAll(s); plain != s {
		spans = append(spans, r.find(plain, start, end)...)
	}
	return replaceSpans(s, spans)
}

// build lists every form of every secret.
func (r *Redactor) build() {
	seen := map[string]bool{}
	add := func(form string) {
		if len(form) >= minSecretLen && !seen[form] {
			seen[form] = true
			r.needles = append(r.needles, needle{text: form, min: fragmentLen(len(form))})
		}
	}
	for _, s := range r.secrets {
		add(s)
		add(strings.ReplaceAll(s, " ", "+")) // a query string's space
		add(hex.EncodeToString([]byte(s)))
		add(strings.ToUpper(hex.EncodeToString([]byte(s))))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for offset := range 3 {
				add(base64Core(enc, s, offset))
			}
		}
	}
	// Longest first, so a secret containing another is one span.
	slices.SortFunc(r.needles, func(a, b needle) int { return len(b.text) - len(a.text) })
}

// fragmentLen is the shortest run of a form n bytes long that is redacted.
func fragmentLen(n int) int { return min(n, max(fragmentMin, n-fragmentSlack)) }

// base64Core is the part of the base64 of s that does not depend on what
// surrounds s, when s starts offset bytes into a 3-byte group of a longer
// blob (the password in base64 of "user:password" is at some offset): the
// groups made of s's bytes alone. "" when too short to be told from chance.
func base64Core(enc *base64.Encoding, s string, offset int) string {
	buf := make([]byte, offset+len(s))
	copy(buf[offset:], s)
	full := enc.EncodeToString(buf)[:len(buf)/3*4]
	if offset > 0 {
		full = full[min(4, len(full)):] // the first group holds bytes that are not s's
	}
	if len(full) < fragmentMin {
		return ""
	}
	return full
}

// span is a byte range [start, end) of the text being redacted.
type span struct{ start, end int }

// find returns the spans of text holding a form of a secret. start and end,
// when not nil, map each byte of text to the span of the original it was
// unescaped from.
func (r *Redactor) find(text string, start, end []int32) []span {
	var out []span
	add := func(a, b int) {
		if start != nil {
			a, b = int(start[a]), int(end[b-1])
		}
		out = append(out, span{a, b})
	}
	for _, n := range r.needles {
		if n.min == len(n.text) {
			for off := 0; ; {
				i := strings.Index(text[off:], n.text)
				if i < 0 {
					break
				}
				add(off+i, off+i+len(n.text))
				off += i + 1
			}
			continue
		}
		findRuns(text, n, add)
	}
	return out
}

// findRuns calls add for every run of text of at least n.min bytes that is
// also a run of n.text. Every such run holds one of the anchors (pieces of
// n.text step bytes apart), so only those are searched for.
func findRuns(text string, n needle, add func(a, b int)) {
	anchor := max(4, n.min/2)
	step := n.min - anchor + 1
	for j := 0; j+anchor <= len(n.text); j += step {
		piece := n.text[j : j+anchor]
		for off := 0; ; {
			i := strings.Index(text[off:], piece)
			if i < 0 {
				break
			}
			p := off + i
			l, r := 0, 0
			for p-l > 0 && j-l > 0 && text[p-l-1] == n.text[j-l-1] {
				l++
			}
			for p+anchor+r < len(text) && j+anchor+r < len(n.text) && text[p+anchor+r] == n.text[j+anchor+r] {
				r++
			}
			if a, b := p-l, p+anchor+r; b-a == len(n.text) {
				add(a, b)
			} else if b-a >= n.min {
				// A piece of "Bearer sk_…" must not take the space before "sk_…" with it.
				for a < b && text[a] == ' ' {
					a++
				}
				for b > a && text[b-1] == ' ' {
					b--
				}
				add(a, b)
			}
			off = p + 1
		}
	}
}

// replaceSpans replaces the (possibly overlapping) spans of s with the mark.
func replaceSpans(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		b.WriteString(s[last:start])
		b.WriteString(Mark)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// unescapeAll undoes escapes in s, up to unescapeRounds times over, and
// maps each byte of the result to the span of s it came from. It returns s
// and nil maps when s has nothing to undo.
func unescapeAll(s string) (string, []int32, []int32) {
	text := s
	var start, end []int32
	for range unescapeRounds {
		next, st, en, changed := unescapeOnce(text)
		if !changed {
			break
		}
		if start != nil { // express the new spans in s, not in text
			for i := range st {
				st[i], en[i] = start[st[i]], end[en[i]-1]
			}
		}
		text, start, end = next, st, en
	}
	return text, start, end
}

// unescapeOnce undoes one layer of the escapes APIs apply to text they
// echo: %XX, JSON's and PHP's \/ \" \\ \uXXXX (surrogate pairs joined),
// Python's \xXX \UXXXXXXXX \', and HTML character references.
func unescapeOnce(s string) (string, []int32, []int32, bool) {
	if !strings.ContainsAny(s, `%\&`) {
		return s, nil, nil, false
	}
	out := make([]byte, 0, len(s))
	start := make([]int32, 0, len(s))
	end := make([]int32, 0, len(s))
	changed := false
	var rb [utf8.UTFMax]byte
	for i := 0; i < len(s); {
		b, n := decodeEscape(s[i:], rb[:0])
		if n == 0 {
			b, n = append(rb[:0], s[i]), 1
		} else {
			changed = true
		}
		out = append(out, b...)
		for range b {
			start = append(start, int32(i))
			end = append(end, int32(i+n))
		}
		i += n
	}
	return string(out), start, end, changed
}

// htmlEntities are the named character references an API may write.
var htmlEntities = map[string]byte{"amp": '&', "quot": '"', "apos": '\'', "lt": '<', "gt": '>', "sol": '/', "plus": '+', "equals": '='}

// decodeEscape decodes the escape at the start of s into buf and returns
// the bytes and how much of s it took; n is 0 when s starts with none.
func decodeEscape(s string, buf []byte) ([]byte, int) {
	switch s[0] {
	case '%':
		if v, ok := hexValue(s, 1, 2); ok {
			return append(buf, byte(v)), 3
		}
	case '\\':
		if len(s) < 2 {
			return nil, 0
		}
		switch c := s[1]; c {
		case '/', '\\', '"', '\'':
			return append(buf, c), 2
		case 'n':
			return append(buf, '\n'), 2
		case 't':
			return append(buf, '\t'), 2
		case 'r':
			return append(buf, '\r'), 2
		case 'x':
			if v, ok := hexValue(s, 2, 2); ok {
				return utf8.AppendRune(buf, rune(v)), 4
			}
		case 'u':
			if v, ok := hexValue(s, 2, 4); ok {
				if v >= 0xD800 && v < 0xDC00 && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
					if lo, ok := hexValue(s, 8, 4); ok && lo >= 0xDC00 && lo < 0xE000 {
						return utf8.AppendRune(buf, rune(0x10000+(v-0xD800)<<10+(lo-0xDC00))), 12
					}
				}
				return utf8.AppendRune(buf, rune(v)), 6
			}
		case 'U':
			if v, ok := hexValue(s, 2, 8); ok && v <= utf8.MaxRune {
				return utf8.AppendRune(buf, rune(v)), 10
			}
		}
	case '&':
		semi := strings.IndexByte(s[:min(len(s), 12)], ';')
		if semi < 2 {
			return nil, 0
		}
		ref := s[1:semi]
		if c, ok := htmlEntities[ref]; ok {
			return append(buf, c), semi + 1
		}
		if ref[0] != '#' {
			return nil, 0
		}
		var v int
		if len(ref) > 1 && (ref[1] == 'x' || ref[1] == 'X') {
			h, ok := hexValue(ref, 2, len(ref)-2)
			if !ok {
				return nil, 0
			}
			v = h
		} else {
			for _, d := range ref[1:] {
				if d < '0' || d > '9' || v > utf8.MaxRune {
					return nil, 0
				}
				v = v*10 + int(d-'0')
			}
		}
		if v > 0 && v <= utf8.MaxRune {
			return utf8.AppendRune(buf, rune(v)), semi + 1
		}
	}
	return nil, 0
}

// hexValue reads n (1 to 8) hex digits of s at i.
func hexValue(s string, i, n int) (int, bool) {
	if n < 1 || n > 8 || len(s) < i+n {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | int(d)
	}
	return v, true
}
