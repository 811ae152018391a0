package engine

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/publicsuffix"

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

// allows reports whether a client may send credentials to u, an absolute
// URL of a request: baseUri's host, or one of auth.allowedHosts. A relative
// path is joined to baseUri, which passed checkURL.
func (cfg *apiConfig) allows(u *url.URL) bool {
	if cfg.base.Scheme == "https" && u.Scheme != "https" {
		return false // never downgrade to plain HTTP
	}
	return slices.Contains(cfg.allowed, hostKey(u)) || cfg.hosts.allowsDeclared(hostKey(u))
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
	domain := registrableDomain(strings.ToLower(u.Hostname()))
	domainAt := strings.LastIndex(lraw[start:end], domain) + start
	domainLabels := strings.Split(domain, ".")
	var fields []string
	for _, in := range input {
		if in.value == "" || p != nil && slices.Contains(p.choices[in.field], in.value) {
			continue // validated input that is one of the author's choices
		}
		lv := strings.ToLower(in.value)
		tainted := sharesDomain(lv, domain)
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
				// Input in the registrable domain chooses whose domain it
				// is; a single character only counts as a whole label of it
				// or its first character (it is in most names by chance).
				if i < domainAt+len(domain) && i+len(lv) > domainAt && (len(lv) > 1 || i == domainAt || slices.Contains(domainLabels, lv)) {
					tainted = true
				}
			}
			off = i + 1
		}
		if end < len(raw) && endsAuthority(authority, raw[end], lv) {
			return nil, &HostError{Field: field, Input: []string{in.field}, Reason: "it would end the host early"}
		}
		if tainted && !slices.Contains(fields, in.field) {
			fields = append(fields, in.field)
		}
	}
	if !validHostName(u.Hostname()) {
		return nil, fmt.Errorf("%s has no valid host name (letters, digits, '-' and '_' in dot-separated labels, or an IP address)", field)
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

// validHostName reports whether host is an IP address or ASCII labels of
// letters, digits, '-' and '_', none empty: what a pattern can be matched
// against (an internationalised name is written in its xn-- form).
func validHostName(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" || strings.Trim(strings.ToLower(l), "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// registrableDomain is the part of host that somebody registers
// (zendesk.com for acme.zendesk.com, acme.myshopify.com for a tenant under
// a private suffix), or the whole host for an address or a one-label name.
func registrableDomain(host string) string {
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return host
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d
	}
	return host
}

// sharesDomain reports whether the input value v (lower case) carries text
// of domain's own label (not of its public suffix), even after a method cut
// or trimmed it: four characters of it in a row, or the whole label and its
// dot when it is shorter ("x." of x.io).
func sharesDomain(v, domain string) bool {
	label, _, _ := strings.Cut(domain, ".")
	if net.ParseIP(domain) != nil {
		label = domain
	}
	if label == "" {
		return false
	}
	if len(label) < 4 {
		return strings.Contains(v, label+".") || v == label
	}
	for i := 0; i+4 <= len(label); i++ {
		if strings.Contains(v, label[i:i+4]) {
			return true
		}
	}
	return false
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

// probeInputHosts is the host rule at validate time, for the methods whose
// result names where secrets go (getOAuthConfig, getJwtBearerConfig,
// makeApiClient) when they
// are mappings or expressions: each is evaluated once with a marker in
// every connection input field, and a URL whose host a marker reaches must
// match a host or pattern the author wrote. JavaScript methods are held to
// the same rule when they run.
func probeInputHosts(a *Auth) spec.Diagnostics {
	baseIsResource, diags := probeProtectedResource(a)
	for _, name := range []string{spec.MethodGetOAuthConfig, spec.MethodGetJWTBearerConfig, spec.MethodGetSessionLoginConfig, spec.MethodMakeAPIClient} {
		m := a.Methods[name]
		if m == nil || m.Mapping == nil || m.Spec.Inherited {
			continue
		}
		refused := a.hosts.probe(m, false)
		for field, fields := range a.hosts.probe(m, true) {
			if _, seen := refused[field]; !seen {
				refused[field] = fields
			}
		}
		if name == spec.MethodMakeAPIClient && baseIsResource {
			// the protected resource's own origin (resourcemetadata.go)
			delete(refused, "baseUri")
			delete(refused, "baseUrl")
		}
		for _, field := range slices.Sorted(maps.Keys(refused)) {
			diags = append(diags, a.hosts.probeDiagnostic(m, field, refused[field])...)
		}
	}
	return diags
}

// probe evaluates m with a marker in every connection input field (a host
// name, or with wholeURL a URL) and returns the URL fields of its result
// that the host rule refuses, with the input fields that reached them.
func (p *hostPolicy) probe(m *Method, wholeURL bool) map[string][]string {
	probe := p.probeInput(m, wholeURL)
	out, err := m.Mapping.Evaluate(map[string]any{
		"connectorParameters":  map[string]any{},
		"credentials":          map[string]any{},
		"connectionInput":      probe,
		"connectionParameters": probe,
		"redirectUri":          "https://connspec.invalid/oauth/callback",
		"state":                "state",
	})
	if err != nil {
		return nil // a method that needs real input is checked when it runs
	}
	result := withStepURLs(unwrapArgs(out))
	input := inputValues(probe)
	refused := map[string][]string{}
	fields := urlFields(result)
	if _, ok := result["issuer"].(string); ok && m.Spec.Name == spec.MethodGetOAuthConfig {
		// Discovery's issuer (discovery.go): its metadata names the
		// endpoints the secrets go to.
		fields = append(fields, "issuer")
	}
	for _, field := range fields {
		raw := result[field].(string)
		if wholeURL && !strings.HasPrefix(raw, "https://zq") {
			continue // the URL markers only tell where a whole URL is used
		}
		var he *HostError
		if _, err := p.checkURL(field, raw, input, nil); errors.As(err, &he) && len(he.Input) > 0 {
			refused[field] = he.Input
		}
	}
	return refused
}

// withStepURLs adds the URLs of a session login's steps to result as
// fields of their own ("steps[0].url"), for the probe to check.
func withStepURLs(result map[string]any) map[string]any {
	steps, ok := result["steps"].([]any)
	if !ok {
		return result
	}
	out := maps.Clone(result)
	for i, st := range steps {
		if m, ok := st.(map[string]any); ok {
			if u, ok := m["url"].(string); ok {
				out[fmt.Sprintf("steps[%d].url", i)] = u
			}
		}
	}
	return out
}

// probeDiagnostic reports a URL field that takes its host from input: an
// error, a warning when a template elsewhere in the connector may still
// match the real value, nothing when allowedHosts patterns decide.
func (p *hostPolicy) probeDiagnostic(m *Method, field string, fields []string) spec.Diagnostics {
	if slices.ContainsFunc(p.declared, hostpattern.Pattern.HasWildcard) {
		return nil // allowedHosts patterns decide at run time, on the real value
	}
	slices.Sort(fields)
	at := m.Spec.Body
	if n := resultField(m.Spec.Mapping, field); n != nil {
		at.Line, at.Column = n.Line, n.Column
	}
	d := at.Errorf("", "%s: %s takes its host from connection input (%s), and no host pattern of the connector matches it: a value a user types may only fill whole DNS labels of a pattern the author wrote; declare auth.allowedHosts (such as \"*.example.com\"), or write the domain into the URL (https://{%s}.example.com)",
		m.Spec.Name, field, strings.Join(fields, ", "), fields[0])
	if len(p.derived) > 0 {
		// A real value may still match a template written elsewhere.
		d.Severity = spec.SeverityWarning
		d.Message += "; connections are refused unless the value makes the host match " + patternList(p.derived)
	}
	return spec.Diagnostics{d}
}

// probeInput builds connection input for probeInputHosts: a marker in
// every field the method reads or the schemas declare, except fields
// limited to the author's choices, which get their first choice.
func (p *hostPolicy) probeInput(m *Method, wholeURL bool) map[string]any {
	probe := map[string]any{}
	n := 0
	set := func(path []string) {
		if len(path) == 0 || path[0] == "" {
			return
		}
		field := strings.Join(path, ".")
		n++
		// A marker with a dot: where it lands, it forms a domain of its own.
		value := fmt.Sprintf("zq%dprobe.zqx", n)
		if wholeURL {
			value = "https://" + value
		}
		if choices := p.choices[field]; len(choices) > 0 {
			value = choices[0]
		}
		cur := probe
		for _, k := range path[:len(path)-1] {
			next, ok := cur[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[k] = next
			}
			cur = next
		}
		if _, taken := cur[path[len(path)-1]]; !taken {
			cur[path[len(path)-1]] = value
		}
	}
	for _, ref := range m.Mapping.References() {
		if ref.Root == "connectionInput" || ref.Root == "connectionParameters" {
			set(strings.Split(strings.TrimPrefix(ref.Locator, ref.Root+"."), "."))
		}
	}
	for field := range p.choices {
		set([]string{field})
	}
	return probe
}

func patternList(ps []hostpattern.Pattern) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

// resultField finds the node of a literal field of a mapping method's
// result, flat or under args, to point a diagnostic at.
func resultField(n *yaml.Node, field string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case field:
			return n.Content[i+1]
		case "args":
			if found := resultField(n.Content[i+1], field); found != nil {
				return found
			}
		}
	}
	return nil
}
