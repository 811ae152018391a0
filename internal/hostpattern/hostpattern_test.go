package hostpattern

import (
	"slices"
	"strings"
	"testing"
)

func TestParseAndMatch(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"*.zendesk.com", []string{"acme.zendesk.com", "a.b.zendesk.com", "x-1.zendesk.com"},
			[]string{"zendesk.com", "evil.com", "acme.zendesk.com.evil.com", "acme.zendesk.com:8443", "acmezendesk.com", ".zendesk.com", "-x.zendesk.com"}},
		{"{subdomain}.zendesk.com", []string{"acme.zendesk.com"}, []string{"127.0.0.2:18081", "zendesk.com"}},
		{"{{site}}.atlassian.net", []string{"acme.atlassian.net"}, []string{"acme.atlassian.net.evil"}},
		{"${shop}.myshopify.com", []string{"store.myshopify.com"}, []string{"myshopify.com"}},
		{"api.{region}.example.com", []string{"api.eu.example.com"}, []string{"api.example.com", "x.eu.example.com"}},
		{"login.example.com", []string{"login.example.com"}, []string{"login.example.com:444", "x.login.example.com"}},
		{"api.example.test:8443", []string{"api.example.test:8443"}, []string{"api.example.test"}},
		{"*.example.test", []string{"a.example.test"}, []string{"127.0.0.1"}},
	}
	for _, c := range cases {
		p, err := Parse(c.pattern)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.pattern, err)
		}
		for _, h := range c.match {
			if !p.Match(h) {
				t.Errorf("%q does not match %q", c.pattern, h)
			}
		}
		for _, h := range c.miss {
			if p.Match(h) {
				t.Errorf("%q matches %q", c.pattern, h)
			}
		}
	}
}

// Patterns that would let a value name another domain are refused.
func TestParseRefusesOpenPatterns(t *testing.T) {
	for pattern, want := range map[string]string{
		"*":                  "followed by the domain",
		"*.com":              "public suffix",
		"*.co.uk":            "public suffix",
		"{sub}.com":          "public suffix",
		"*.0.0.1":            "public suffix",
		"x*.example.com":     "whole label",
		"{a}-eu.example.com": "whole label",
		"example.*":          "followed by the domain",
		"api.example.com:":   "port",
		"api.example.com:x":  "port",
		"":                   "names no host",
		"a b.example.com":    "not a host name label",
	} {
		_, err := Parse(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want an error saying %q", pattern, err, want)
		}
	}
}

func TestFromSource(t *testing.T) {
	cases := []struct {
		text     string
		patterns []string
		literals []string
	}{
		{"https://{subdomain}.zendesk.com/oauth/tokens", []string{"*.zendesk.com"}, nil},
		{"https://{{connectionInput.site}}.atlassian.net/rest", []string{"*.atlassian.net"}, nil},
		{`const u = ` + "`https://${sub}.myshopify.com/admin`", []string{"*.myshopify.com"}, nil},
		{`"https://" + replace(lower(connectionParameters.accountId), "_", "-") + ".suitetalk.api.netsuite.com/services/rest"`,
			[]string{"*.suitetalk.api.netsuite.com"}, nil},
		{".api.mailchimp.com/3.0", []string{"*.api.mailchimp.com"}, nil},
		{"https://login.salesforce.com/services/oauth2/token", nil, []string{"login.salesforce.com"}},
		{"https://{domain}/oauth/token", nil, nil},      // the whole host from a value: no pattern
		{"https://{x}.com/", nil, nil},                  // a public suffix: no pattern
		{"https://{region}-api.example.com/", nil, nil}, // part of a label: no pattern
		{"file.json and x.map.yml", nil, nil},           // not at a string's start
		{"{instanceUrl}/services/data", nil, nil},
	}
	for _, c := range cases {
		ps, lits := FromSource(c.text)
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.patterns) || !slices.Equal(lits, c.literals) {
			t.Errorf("FromSource(%q) = %q, %q; want %q, %q", c.text, got, lits, c.patterns, c.literals)
		}
	}
}
