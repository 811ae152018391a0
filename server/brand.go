package server

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Branding is how the connect page presents the embedding application, so
// an end user sees whose page they are on and where to ask for help.
type Branding struct {
	// AppName is the embedding application's name ("Acme CRM").
	AppName string
	// AppLogoURL is an absolute http(s) URL of its logo; when it is missing
	// or fails to load, a monogram of AppName is shown.
	AppLogoURL string
	// SupportURL is an http(s) or mailto: link to the application's support.
	SupportURL string
}

// check refuses links the page could not show safely.
func (b Branding) check() error {
	// Both links are shown to every end user: one carrying user
	// information (user:password@) is refused, and the message then does
	// not quote it.
	if b.AppLogoURL != "" {
		u, err := url.Parse(b.AppLogoURL)
		if err == nil && u.User != nil {
			return fmt.Errorf("server: the app logo URL must not carry user information (user@host): every end user sees it")
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("server: the app logo URL must be an absolute http(s) URL, not %q", b.AppLogoURL)
		}
	}
	if b.SupportURL != "" {
		u, err := url.Parse(b.SupportURL)
		if err == nil && u.User != nil {
			return fmt.Errorf("server: the support URL must not carry user information (user@host): every end user sees it")
		}
		ok := err == nil && ((u.Scheme == "http" || u.Scheme == "https") && u.Host != "" || u.Scheme == "mailto" && u.Opaque != "")
		if !ok {
			return fmt.Errorf("server: the support URL must be an absolute http(s) URL or a mailto: link, not %q", b.SupportURL)
		}
	}
	if len(b.AppName) > 80 {
		return fmt.Errorf("server: the app name is %d bytes long; at most 80 fit the connect page", len(b.AppName))
	}
	return nil
}

// logo is a picture of a name: the image at URL when there is one and it
// loads, else the monogram (initials on a colour of the name's own).
type logo struct {
	URL      string
	Initials string
	Color    template.CSS
	Small    bool // the app's logo above the card
}

// newLogo returns the logo of name with the image at url ("" for none).
func newLogo(name, url string) logo {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(name)))
	// A hue from the name, darkish so white initials stay readable.
	color := template.CSS(fmt.Sprintf("hsl(%d 55%% 40%%)", h.Sum32()%360))
	return logo{URL: safeLink(url), Initials: initials(name), Color: color}
}

// initials are the first letters of the first two words of name
// ("Google Sheets" → "GS", "github" → "G"), "?" when it has no letter.
func initials(name string) string {
	var out []rune
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		r, _ := utf8.DecodeRuneInString(w)
		out = append(out, unicode.ToUpper(r))
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// logoFallbackScript swaps a logo that fails to load (a 404, a host that is
// down or blocked) for its monogram. It is the page's only script, allowed
// by its hash in the Content Security Policy; without it a logo that loads
// still shows and the monogram sits under a broken one.
const logoFallbackScript = `for (const img of document.querySelectorAll("img.logo-img")) {
  const fail = () => { img.remove(); };
  if (img.complete && img.naturalWidth === 0) fail(); else img.addEventListener("error", fail);
}`

// logoFallbackHash is the CSP source of logoFallbackScript.
var logoFallbackHash = func() string {
	sum := sha256.Sum256([]byte(logoFallbackScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()
