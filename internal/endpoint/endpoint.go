// Package endpoint holds what the OAuth packages share when they talk to a
// provider's credential endpoints: no redirects, transport errors without
// the URL, and provider text cleaned and scrubbed of the secrets that were
// sent before it goes into an error.
package endpoint

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxText caps provider text kept in errors.
const MaxText = 512

// CleanText makes provider text fit for an error message: valid UTF-8, no
// control characters, at most MaxText bytes.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > MaxText {
		cut := MaxText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Scrub replaces every secret in s; providers sometimes echo what they got.
func Scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// NoRedirects returns a copy of hc that hands back 3xx responses instead of
// following them, so credentials never travel to another location.
func NoRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// TransportCause drops the *url.Error wrapper, whose text repeats the
// request URL, keeping the underlying error (timeouts, refused
// connections, context errors) for errors.Is.
func TransportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
