package engine

import (
	"strings"
	"testing"
)

// checkBaseURI refuses a connection value that moves the API host even when
// the method changed the value on its way into baseUri (lower-cased,
// trimmed, cut), and leaves alone values that only share text with it.
func TestCheckBaseURIAfterTransformations(t *testing.T) {
	refused := []struct{ raw, value string }{
		{"https://evil.example#.api.example.test/v1", "EVIL.EXAMPLE#"},                  // lower-cased
		{"https://evil.example#.api.example.test/v1", "  evil.example#  "},              // trimmed
		{"https://evil.example#.api.mailchimp.test/3.0", "0123abcd-evil.example#"},      // last(split(key, "-"))
		{"https://evil.example/x.api.example.test/v1", "0123abcd-EVIL.example/x"},       // cut and lower-cased
		{"http://127.0.0.1:8080/.api.example.test/v1", "key-127.0.0.1:8080/"},           // a host and port
		{"https://api.evil.example?.example.test", "Region-Evil.Example?"},              // behind a fixed prefix
		{"https://evil.example#.zendesk.test/api/v2", "evil.example#"},                  // verbatim, as before
		{"https://x.evil.example#-eu.api.example.test", "prefix_X.EVIL.EXAMPLE#suffix"}, // a tail rewritten
	}
	for _, c := range refused {
		if _, err := checkBaseURI(c.raw, []string{"unrelated", c.value}); err == nil || !strings.Contains(err.Error(), "would change the API host") {
			t.Errorf("%s from %q: err = %v", c.raw, c.value, err)
		}
	}
	allowed := []struct{ raw, value string }{
		{"https://acme.zendesk.test/api/v2", "acme"},                                             // a subdomain
		{"https://us21.api.mailchimp.test/3.0", "0123abcdef-us21"},                               // a data center
		{"https://na1.my.salesforce.test/services/data/v62.0", "https://na1.my.salesforce.test"}, // a whole URL, by design
		{"https://na1.my.salesforce.test/services/data/v62.0", "https://na1.my.salesforce.test/"},
		{"https://acme.zendesk.test/api/v2", "Pa$s.test/1"},                 // only a top-level domain in common
		{"https://acme.zendesk.test/api/v2", "https://help.zendesk.test/x"}, // another URL of the same site
		{"https://api.example.test/accounts/../../evil/v2", "../../evil"},   // the path, not the host
		{"https://api.example.test/v1?account=a%2Fb", "a/b"},
	}
	for _, c := range allowed {
		if _, err := checkBaseURI(c.raw, []string{c.value}); err != nil {
			t.Errorf("%s from %q: %v", c.raw, c.value, err)
		}
	}
}
