package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/hostpattern"
)

// policyFrom builds a host policy from source text and allowedHosts, as
// Compile does from a connector.
func policyFrom(t *testing.T, source string, allowed ...string) *hostPolicy {
	t.Helper()
	p := &hostPolicy{literal: map[string]bool{}}
	for _, a := range allowed {
		pat, err := hostpattern.Parse(a)
		if err != nil {
			t.Fatal(err)
		}
		p.declared = append(p.declared, pat)
	}
	var lits []string
	p.derived, lits = hostpattern.FromSource(source)
	for _, l := range lits {
		p.literal[l] = true
	}
	return p
}

// A connection value that moves the host is refused even when the method
// changed it on its way into the URL (lower-cased, trimmed, cut), whether
// it came from connection input or from the provider.
func TestCheckURLAfterTransformations(t *testing.T) {
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
	p := policyFrom(t, "https://{sub}.api.example.test https://{x}.zendesk.test")
	for _, c := range refused {
		if _, err := p.checkURL("baseUri", c.raw, nil, []string{"unrelated", c.value}); err == nil || !strings.Contains(err.Error(), "would change the API host") {
			t.Errorf("provider %s from %q: err = %v", c.raw, c.value, err)
		}
		_, err := p.checkURL("tokenUri", c.raw, []inputValue{{"other", "unrelated"}, {"sub", c.value}}, nil)
		var he *HostError
		if !errors.As(err, &he) || he.Field != "tokenUri" || len(he.Input) != 1 || he.Input[0] != "sub" {
			t.Errorf("input %s from %q: err = %v", c.raw, c.value, err)
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
		if _, err := p.checkURL("baseUri", c.raw, nil, []string{c.value}); err != nil {
			t.Errorf("provider %s from %q: %v", c.raw, c.value, err)
		}
	}
}

// Connection input may only fill whole labels of a host or pattern the
// author wrote; without one, an input-built host is refused, whatever it
// is made of (issue 12, class 1).
func TestCheckURLInputNeedsAPattern(t *testing.T) {
	zendesk := policyFrom(t, "https://{subdomain}.zendesk.com/oauth/tokens")
	declared := policyFrom(t, "", "*.auth0.com")
	literal := policyFrom(t, "https://login.microsoftonline.com/${tenant}/oauth2/v2.0")
	none := policyFrom(t, "https://{domain}/oauth/token")
	cases := []struct {
		name   string
		policy *hostPolicy
		raw    string
		value  string
		ok     bool
	}{
		{"template tenant", zendesk, "https://acme.zendesk.com/oauth/tokens", "acme", true},
		{"template two labels", zendesk, "https://evil.com.zendesk.com/oauth/tokens", "evil.com", true},
		{"template local host", zendesk, "https://127.0.0.2:18081/#.zendesk.com/oauth/tokens", "127.0.0.2:18081/#", false},
		{"template other port", zendesk, "https://acme.zendesk.com:8443/oauth/tokens", "acme.zendesk.com:8443", false},
		{"declared tenant", declared, "https://acme.us.auth0.com/oauth/token", "acme.us.auth0.com", true},
		{"declared other domain", declared, "https://evil.example/oauth/token", "evil.example", false},
		{"declared ip", declared, "https://127.0.0.2/oauth/token", "127.0.0.2", false},
		{"whole host, no pattern", none, "https://evil.example/oauth/token", "evil.example", false},
		{"whole url, no pattern", none, "https://evil.example/oauth/token", "https://evil.example", false},
		{"path only", literal, "https://login.microsoftonline.com/login/oauth2/v2.0/token", "login", true},
		{"a label under the author's domain", none, "https://a.example.test/x", "a", true},
		{"two letters short of a domain", none, "https://exexample.test/x", "ex", false},
		{"one letter as the domain", none, "https://x.io/x", "x", false},
		{"trimmed address", none, "http://127.0.0.1:4000/x", "  127.0.0.1  ", false},
		{"cut domain", none, "https://evil.example/x", "0123abcd-evil.example", false},
		{"two letters not a label", zendesk, "https://api.zendesk.com/x", "pi", true},
	}
	for _, c := range cases {
		_, err := c.policy.checkURL("tokenUri", c.raw, []inputValue{{"subdomain", c.value}}, nil)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok {
			var he *HostError
			if !errors.As(err, &he) || he.Input[0] != "subdomain" {
				t.Errorf("%s: err = %v; want a HostError naming the field", c.name, err)
			} else if len(c.value) > 3 && strings.Contains(err.Error(), c.value) {
				t.Errorf("%s: the error shows the input value: %v", c.name, err)
			}
		}
	}
}
