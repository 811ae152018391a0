package engine

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/hostpattern"
	"github.com/connspec/connspec/spec"
)

// hostPolicy is the one rule for every URL that a secret is sent to: the
// API's baseUri, the OAuth endpoints (authorize, token, refresh, OAuth 1.0a
// request and access token), and through them every request a client or a
// method sends. A host that connection input helped build (an end user
// typed it) must be one the connector author wrote: a host written out in
// the connector's source, or a pattern (auth.allowedHosts, or a URL
// template such as https://{subdomain}.zendesk.com) whose wildcard labels
// the input fills whole. Hosts from the author, the developer (connector
// parameters) and the provider (credentials) are not the end user's.
type hostPolicy struct {
	// declared are auth.allowedHosts; they also widen where a client's
	// absolute URLs may go.
	declared []hostpattern.Pattern
	// derived are the URL templates and host suffixes in the methods' source.
	derived []hostpattern.Pattern
	// literal are the hosts the source writes out in full.
	literal map[string]bool
	// choices are, per input field, the values its schema lists (enum,
	// const): the author wrote those, the user only picks one.
	choices map[string][]string
}

// newHostPolicy collects the hosts and patterns an auth block's author
// wrote. allowedHosts were checked by the loader.
func newHostPolicy(c *spec.Connector, a *spec.Auth) *hostPolicy {
	p := &hostPolicy{literal: map[string]bool{}, choices: map[string][]string{}}
	// The schemas connection input is validated against (validateInput).
	ui, input := a.UI, a.InputSchema
	if ui == nil || ui.Schema == nil {
		ui = c.UI
	}
	if input == nil {
		input = c.InputSchema
	}
	for _, s := range []*spec.JSONSchema{input, schemaOf(ui)} {
		if s == nil {
			continue
		}
		props, _ := s.Value["properties"].(map[string]any)
		for name, prop := range props {
			p.choices[name] = append(p.choices[name], schemaChoices(prop)...)
		}
	}
	for _, h := range a.AllowedHosts {
		if pat, err := hostpattern.Parse(h); err == nil {
			p.declared = append(p.declared, pat)
		}
	}
	seen := map[string]bool{}
	addSource := func(text string) {
		patterns, literals := hostpattern.FromSource(text)
		for _, pat := range patterns {
			if !seen[pat.String()] {
				seen[pat.String()] = true
				p.derived = append(p.derived, pat)
			}
		}
		for _, l := range literals {
			p.literal[l] = true
		}
	}
	for _, m := range a.Methods {
		if m.Mapping != nil {
			walkScalars(m.Mapping, addSource)
		}
		if m.Source != "" {
			addSource(m.Source)
		}
	}
	return p
}

func schemaOf(ui *spec.UI) *spec.JSONSchema {
	if ui == nil {
		return nil
	}
	return ui.Schema
}

// schemaChoices lists the strings a property schema limits its value to.
func schemaChoices(prop any) []string {
	m, _ := prop.(map[string]any)
	var out []string
	if s, ok := m["const"].(string); ok {
		out = append(out, s)
	}
	enum, _ := m["enum"].([]any)
	for _, v := range enum {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// walkScalars calls f with every scalar of a YAML tree.
func walkScalars(n *yaml.Node, f func(string)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		f(n.Value)
		return
	}
	for _, c := range n.Content {
		walkScalars(c, f)
	}
}

// allowsInputHost reports whether host, built with connection input, is one
// the author wrote.
func (p *hostPolicy) allowsInputHost(host string) bool {
	if p == nil {
		return false
	}
	if p.literal[host] {
		return true
	}
	return slices.ContainsFunc(p.declared, func(pat hostpattern.Pattern) bool { return pat.Match(host) }) ||
		slices.ContainsFunc(p.derived, func(pat hostpattern.Pattern) bool { return pat.Match(host) })
}

// allowsDeclared reports whether host matches one of auth.allowedHosts.
func (p *hostPolicy) allowsDeclared(host string) bool {
	return p != nil && slices.ContainsFunc(p.declared, func(pat hostpattern.Pattern) bool { return pat.Match(host) })
}

// merge returns a policy that allows what p or q allows (a proxy connection
// uses its own connector's and the underlying connector's).
func (p *hostPolicy) merge(q *hostPolicy) *hostPolicy {
	if q == nil {
		return p
	}
	if p == nil {
		return q
	}
	out := &hostPolicy{
		declared: slices.Concat(p.declared, q.declared),
		derived:  slices.Concat(p.derived, q.derived),
		literal:  map[string]bool{},
		choices:  map[string][]string{},
	}
	for _, m := range []map[string][]string{p.choices, q.choices} {
		for k, v := range m {
			out.choices[k] = append(out.choices[k], v...)
		}
	}
	for h := range p.literal {
		out.literal[h] = true
	}
	for h := range q.literal {
		out.literal[h] = true
	}
	return out
}

// inputValue is one string of connection input and the field it is in.
type inputValue struct{ field, value string }

// inputValues lists the strings of connection input with their fields
// ("subdomain", "account.region"), in a stable order.
func inputValues(input map[string]any) []inputValue {
	var out []inputValue
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		if depth > 64 {
			return // input is validated for depth; stay bounded regardless
		}
		switch t := v.(type) {
		case string:
			out = append(out, inputValue{prefix, t})
		case map[string]any:
			for k, x := range t {
				walk(strings.TrimPrefix(prefix+"."+k, "."), x, depth+1)
			}
		case []any:
			for i, x := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), x, depth+1)
			}
		}
	}
	walk("", input, 0)
	sort.Slice(out, func(i, j int) bool { return out[i].field < out[j].field })
	return out
}

// checkURL parses raw, the URL named field (baseUri, tokenUri, ...) that a
// secret is about to be sent to, and applies the host rule:
//   - an absolute http(s) URL without user information;
//   - a connection input value may only stand in the host as whole DNS
//     labels of a host or pattern the author wrote (input);
//   - a provider value (credentials) may name a whole URL (a Salesforce
//     instance_url) but not end the host early ("evil.com#") (provider).
func (p *hostPolicy) checkURL(field, raw string, input []inputValue, provider []string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s is not an absolute http(s) URL", field)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s must not carry user information (user@host)", field)
	}
	start := strings.Index(raw, "://") + 3
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#\\"); i >= 0 {
		end = start + i
	}
	// Compared in lower case: a method may lower-case a value on its way
	// into the URL (netsuite-style account IDs), and the host is case-blind.
	lraw := strings.ToLower(raw)
	authority := lraw[start:end]
	host := hostKey(u)
	var fields []string
	for _, in := range input {
		if in.value == "" || p != nil && slices.Contains(p.choices[in.field], in.value) {
			continue // validated input that is one of the author's choices
		}
		lv := strings.ToLower(in.value)
		inHost := false
		for off := 0; ; {
			i := strings.Index(lraw[off:], lv)
			if i < 0 {
				break
			}
			i += off
			if i < end && i+len(lv) > start {
				if !isHostText(in.value) {
					return nil, &HostError{Field: field, Input: []string{in.field}, Reason: "it may only fill whole DNS labels (letters, digits, '-' and '.')"}
				}
				inHost = true
			}
			off = i + 1
		}
		if end < len(raw) && endsAuthority(authority, raw[end], lv) {
			return nil, &HostError{Field: field, Input: []string{in.field}, Reason: "it would end the host early"}
		}
		// A value of one or two characters is counted only where it is a
		// whole label: "eu" in eu.api.example.com, not "a" in salesforce.com.
		if inHost && (len(lv) >= 3 || slices.Contains(strings.Split(u.Hostname(), "."), lv)) && !slices.Contains(fields, in.field) {
			fields = append(fields, in.field)
		}
	}
	if len(fields) > 0 && !p.allowsInputHost(host) {
		return nil, &HostError{Field: field, Input: fields, Reason: "no host pattern of the connector matches it; a value typed by a user may only fill whole DNS labels of a pattern the author declares (auth.allowedHosts such as \"*.example.com\", or a URL template such as https://{subdomain}.example.com)"}
	}
	for _, v := range provider {
		if v == "" {
			continue
		}
		lv := strings.ToLower(v)
		for off := 0; ; {
			i := strings.Index(lraw[off:], lv)
			if i < 0 {
				break
			}
			i += off
			if i >= start && i < end && !isHostText(v) {
				return nil, errHostChange(field)
			}
			off = i + 1
		}
		if end < len(raw) && endsAuthority(authority, raw[end], lv) {
			return nil, errHostChange(field)
		}
	}
	return u, nil
}

func errHostChange(field string) error {
	return fmt.Errorf("%s: a connection value would change the API host (it may only contain letters, digits, '-' and '.')", field)
}

// urlFields are the keys of a method's result that name where secrets go.
func urlFields(m map[string]any) []string {
	var out []string
	for k, v := range m {
		if _, ok := v.(string); !ok {
			continue
		}
		lk := strings.ToLower(k)
		if strings.HasSuffix(lk, "uri") || strings.HasSuffix(lk, "url") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
