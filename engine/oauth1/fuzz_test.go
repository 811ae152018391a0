package oauth1

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzBaseString checks that no method, URL or parameter list makes
// BaseString panic, and that its output is stable: the same input gives the
// same string, the order of the parameters does not matter, and the result
// is three encoded parts joined by "&". The seed corpus is in
// testdata/fuzz/FuzzBaseString.
func FuzzBaseString(f *testing.F) {
	f.Add("GET", "http://photos.example.net/photos?file=vacation.jpg", "size=original&oauth_token=nnch734d00sl2jdk")
	f.Fuzz(func(t *testing.T, method, rawURL, rawParams string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		var params []Param
		for item := range strings.SplitSeq(rawParams, "&") {
			k, v, _ := strings.Cut(item, "=")
			params = append(params, Param{k, v})
		}
		in := slices.Clone(params)
		got := BaseString(method, u, params)
		if !slices.Equal(params, in) {
			t.Fatal("BaseString changed its parameters")
		}
		if again := BaseString(method, u, params); again != got {
			t.Fatalf("unstable: %q then %q", got, again)
		}
		slices.Reverse(params)
		if rev := BaseString(method, u, params); rev != got {
			t.Fatalf("parameter order matters: %q vs %q", got, rev)
		}
		if n := strings.Count(got, "&"); n != 2 {
			t.Fatalf("%d separators in %q", n, got)
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; !unreserved(c) && c != '%' && c != '&' {
				t.Fatalf("unencoded byte %q in %q", c, got)
			}
		}
		if parts := strings.SplitN(got, "&", 2); parts[0] != Encode(strings.ToUpper(method)) {
			t.Fatalf("method part %q", parts[0])
		}
	})
}
