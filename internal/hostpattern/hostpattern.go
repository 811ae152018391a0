// Package hostpattern reads the host patterns a connector author writes,
// such as "*.zendesk.com" or "{subdomain}.zendesk.com", and matches hosts
// against them. A wildcard stands for whole DNS labels only, and the
// literal part of a pattern must be a registrable domain (never a public
// suffix such as "com" or "co.uk"), so a value that fills a wildcard can
// pick a tenant of the author's domain but never another domain.
package hostpattern

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Pattern is a parsed host pattern. The zero value matches nothing.
type Pattern struct {
	text string
	re   *regexp.Regexp
	port string
}

// String returns the pattern in its normal form: "*.zendesk.com",
// "api.example.com:8443".
func (p Pattern) String() string { return p.text }

// label is one DNS label: letters, digits, '-' and '_' (some APIs use it).
const label = `[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?`

var labelRE = regexp.MustCompile(`^` + label + `$`)

// placeholder matches the forms a template marks a value with: {name},
// {{name}} and ${name}.
var placeholder = regexp.MustCompile(`\$?\{\{?[^{}]*\}?\}`)

// Parse reads a pattern: a host name with an optional port, where a whole
// label may be "*" or a placeholder ({subdomain}, {{x}}, ${x}); each such
// label matches one or more whole labels of a host. A pattern without
// wildcards is a plain host name.
func Parse(s string) (Pattern, error) {
	text := strings.ToLower(strings.TrimSpace(placeholder.ReplaceAllString(s, "*")))
	host, port := text, ""
	if i := strings.LastIndexByte(text, ':'); i >= 0 {
		host, port = text[:i], text[i+1:]
		if port == "" || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
			return Pattern{}, fmt.Errorf("host pattern %q: the port must be a number", s)
		}
	}
	if host == "" {
		return Pattern{}, fmt.Errorf("host pattern %q names no host", s)
	}
	labels := strings.Split(host, ".")
	var re strings.Builder
	re.WriteString("^")
	for i, l := range labels {
		if i > 0 {
			re.WriteString(`\.`)
		}
		switch {
		case l == "*":
			re.WriteString(label + `(?:\.` + label + `)*`)
		case strings.Contains(l, "*"):
			return Pattern{}, fmt.Errorf("host pattern %q: a wildcard must be a whole label (like *.example.com), not part of one", s)
		case !labelRE.MatchString(l):
			return Pattern{}, fmt.Errorf("host pattern %q: %q is not a host name label", s, l)
		default:
			re.WriteString(regexp.QuoteMeta(l))
		}
	}
	re.WriteString("$")
	if !strings.Contains(host, "*") {
		return Pattern{text: text, re: regexp.MustCompile(re.String()), port: port}, nil
	}
	if labels[len(labels)-1] == "*" {
		return Pattern{}, fmt.Errorf("host pattern %q: the wildcard must be followed by the domain it stays under (like *.example.com)", s)
	}
	suffix := strings.Join(labels[lastWildcard(labels)+1:], ".")
	if !registrable(suffix) {
		return Pattern{}, fmt.Errorf("host pattern %q: %q is a public suffix, so a wildcard under it could name anybody's domain; name the domain itself (like *.example.com)", s, suffix)
	}
	return Pattern{text: text, re: regexp.MustCompile(re.String()), port: port}, nil
}

func lastWildcard(labels []string) int {
	last := -1
	for i, l := range labels {
		if l == "*" {
			last = i
		}
	}
	return last
}

// registrable reports whether domain is a domain someone registers (at
// least one label more than its public suffix), not a suffix under which
// anyone may register. Private suffixes such as myshopify.com are
// registrable here: the tenants under them are what a pattern picks.
func registrable(domain string) bool {
	if !strings.Contains(domain, ".") || net.ParseIP(domain) != nil {
		return false
	}
	tld := domain[strings.LastIndexByte(domain, '.')+1:]
	if strings.Trim(tld, "0123456789") == "" {
		return false // the end of an IPv4 address
	}
	suffix, icann := publicsuffix.PublicSuffix(domain)
	return !(icann && suffix == domain)
}

// HasWildcard reports whether p matches more than one host.
func (p Pattern) HasWildcard() bool { return strings.Contains(p.text, "*") }

// Match reports whether host (a lower-case "host" or "host:port", the port
// left out when it is the scheme's default) matches p. An IP address never
// matches a pattern with a wildcard.
func (p Pattern) Match(hostport string) bool {
	if p.re == nil {
		return false
	}
	host, port := hostport, ""
	if h, pt, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, pt
	}
	if port != p.port {
		return false
	}
	if p.HasWildcard() && net.ParseIP(host) != nil {
		return false
	}
	return p.re.MatchString(strings.ToLower(host))
}

// authority matches the text after "://" up to where a URL's authority ends,
// placeholders included.
var authority = regexp.MustCompile(`://((?:[A-Za-z0-9_.:-]|\$?\{\{?[^{}\s]*\}?\})+)`)

// fragment matches a host suffix that starts a string (or follows a closing
// placeholder brace): ".zendesk.com" in "https://" + sub + ".zendesk.com/api".
var fragment = regexp.MustCompile(`(?:^|["'` + "`" + `}])(\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?:$|[/:?#"'` + "`" + `\s])`)

// FromSource finds the hosts written in a connector's source text (a
// mapping's string, a JavaScript or expr method): URL templates whose host
// has placeholders become patterns ("https://{sub}.zendesk.com/api" gives
// *.zendesk.com), and so do host suffixes a string starts with
// (".zendesk.com/api", joined after a value); a host written out in full
// is returned in literals. Text that forms no valid pattern is skipped.
func FromSource(text string) (patterns []Pattern, literals []string) {
	seen := map[string]bool{}
	add := func(candidate string) {
		p, err := Parse(candidate)
		if err != nil || seen[p.text] {
			return
		}
		seen[p.text] = true
		if p.HasWildcard() {
			patterns = append(patterns, p)
		} else if strings.Contains(p.text, ".") || p.text == "localhost" {
			literals = append(literals, p.text)
		}
	}
	for _, m := range authority.FindAllStringSubmatch(text, -1) {
		add(strings.TrimRight(m[1], ".:"))
	}
	for _, m := range fragment.FindAllStringSubmatch(text, -1) {
		add("*" + m[1])
	}
	return patterns, literals
}
