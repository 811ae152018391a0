package redact

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestRedactorCoversTheEncodingsAPIsApply: a secret echoed by an API in any
// of the forms APIs realistically produce is hidden, whole or cut short.
func TestRedactorCoversTheEncodingsAPIsApply(t *testing.T) {
	const secret = "sk_live/4eC39+HqLy=jW-7f3a9c1e"
	const user = "acct-42"
	r := New(secret)
	jsonU := func(s string, upper bool) string { // every character as \uXXXX
		var b strings.Builder
		for _, c := range s {
			f := `\u%04x`
			if upper {
				f = `\u%04X`
			}
			fmt.Fprintf(&b, f, c)
		}
		return b.String()
	}
	pct := func(s string, upper bool) string { // every byte as %XX
		var b strings.Builder
		for _, c := range []byte(s) {
			f := "%%%02x"
			if upper {
				f = "%%%02X"
			}
			fmt.Fprintf(&b, f, c)
		}
		return b.String()
	}
	userPass := user + ":" + secret
	cases := map[string]string{
		"plain":                    secret,
		"query escape":             url.QueryEscape(secret),
		"path escape":              url.PathEscape(secret),
		"every byte %xx":           pct(secret, false),
		"every byte %XX":           pct(secret, true),
		"twice percent-encoded":    url.QueryEscape(url.QueryEscape(secret)),
		"php json \\/":             strings.ReplaceAll(secret, "/", `\/`),
		"json \\u lower":           jsonU(secret, false),
		"json \\u upper":           jsonU(secret, true),
		"json \\u some":            strings.ReplaceAll(strings.ReplaceAll(secret, "+", `\u002B`), "_", `\u005f`),
		"python \\x":               strings.ReplaceAll(secret, "-", `\x2d`),
		"python repr in location":  "https://app.example/login?next=" + url.QueryEscape(`b'`+secret+`'`),
		"python \\U":               strings.ReplaceAll(secret, "s", `\U00000073`),
		"html entities":            strings.ReplaceAll(strings.ReplaceAll(secret, "/", "&#x2F;"), "=", "&#61;"),
		"json inside a url":        url.QueryEscape(`{"key":"` + strings.ReplaceAll(secret, "/", `\/`) + `"}`),
		"base64 std":               base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64 raw std":           base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64url":                base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64url raw":            base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"base64 of user:pass":      "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass)),
		"base64url of user:pass":   base64.RawURLEncoding.EncodeToString([]byte("u:" + secret)),
		"base64 at offset 2":       base64.StdEncoding.EncodeToString([]byte("ab" + secret + "xyz")),
		"hex lower":                hex.EncodeToString([]byte(secret)),
		"hex upper":                strings.ToUpper(hex.EncodeToString([]byte(secret))),
		"truncated echo":           secret[:len(secret)-3] + "...",
		"truncated middle":         secret[2 : len(secret)-4],
		"truncated and escaped":    url.QueryEscape(secret[:len(secret)-4]),
		"truncated base64":         base64.StdEncoding.EncodeToString([]byte(secret))[:30],
		"truncated json \\u":       jsonU(secret[:len(secret)-2], false),
		"mixed escapes in one run": `sk_live\/4eC39%2BHqLy\u003djW-7f3a9c1e`,
	}
	for name, form := range cases {
		t.Run(name, func(t *testing.T) {
			text := `{"error":"key ` + form + ` is not valid","at":"` + name + `"}`
			got := r.String(text)
			if !strings.Contains(got, Mark) || !strings.Contains(got, "is not valid") || !strings.HasPrefix(got, `{"error":"key `) {
				t.Errorf("form %q:\n got %s", form, got)
			}
			if strings.Contains(got, secret[:fragmentLen(len(secret))]) || strings.Contains(got, secret[len(secret)-fragmentLen(len(secret)):]) {
				t.Errorf("a long piece of the secret stayed: %s", got)
			}
		})
	}
}

// TestRedactorLeavesOrdinaryTextAlone: short pieces of a secret and text
// that only looks escaped are kept, so error messages stay readable.
func TestRedactorLeavesOrdinaryTextAlone(t *testing.T) {
	const secret = "sk_live_4eC39HqLyjW7f3a9c1e"
	r := New(secret, "eu")
	for _, text := range []string{
		"sk_live_ is the prefix of live keys",
		"GET /v1/charges?limit=10%25&q=%zz: HTTP 404",
		`{"message":"\u00e9t\u00e9 \/ 100% \x"}`,
		"region eu is closed &amp; &#; &#xZZ; \\",
		"",
	} {
		if got := r.String(text); got != text {
			t.Errorf("%q became %q", text, got)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	r := New("sk_live_4eC39HqLyjW7f3a9c1e", "someone@example.com", "correct horse battery")
	for _, size := range []int{200, 64 << 10} {
		text := strings.Repeat(`{"error":"invalid request \/ see https:\/\/docs.example.com\/errors?code=%2F42"} `, size/80+1)[:size]
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				r.String(text)
			}
		})
	}
}
