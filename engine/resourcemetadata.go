package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/connspec/connspec/internal/netguard"
	"github.com/connspec/connspec/spec"
)

// Protected resource discovery (RFC 9728, OAuth 2.0 Protected Resource
// Metadata), as the MCP authorization specification (2025-11-25,
// basic/authorization) uses it: getOAuthConfig gives protectedResource, the
// URL of the API (an MCP server); the engine asks it, unauthenticated, who
// its authorization servers are, then discovers the first one's endpoints
// (discovery.go), and binds tokens to the resource (RFC 8707).
//
// Steps and the sections they follow:
//   - MCP "Protected Resource Metadata Discovery Requirements": a 401 whose
//     WWW-Authenticate Bearer challenge has resource_metadata (RFC 9728
//     section 5.1) names the document; else the well-known URIs, first with
//     the resource's path inserted (RFC 9728 section 3.1), then at the root.
//   - RFC 9728 section 3.3: the document's resource must be identical to
//     the resource the client asked about, else it is refused (an attacker's
//     document would impersonate another resource).
//   - MCP "Authorization Server Discovery": authorization_servers holds at
//     least one issuer; the first is used (RFC 9728 section 7.6 leaves the
//     choice to the client).
//   - MCP "Authorization Code Protection": PKCE S256 is required; a server
//     whose metadata lacks code_challenge_methods_supported is refused.
//   - MCP "Resource Parameter Implementation": resource (RFC 8707) is the
//     canonical URI, sent in the authorization and token requests.
//   - MCP "Scope Selection Strategy": the challenge's scope, else
//     scopes_supported, when the connector gives no scopes.
//   - MCP "Client ID Metadata Documents": with no clientId configured and an
//     authorization server that advertises
//     client_id_metadata_document_supported, the engine's document URL
//     (WithClientIDMetadataDocument) is the client_id (clientmetadata.go).
//
// Threat model (docs/writing-connectors.md, "MCP servers"): the resource
// URL may be typed by the end user, so it names a server the connector's
// author never saw, and that server names the authorization server. Then
// no configured client secret or private key may be used (it would go to
// a server of the user's choosing), the discovery requests follow no
// redirects, and WithoutPrivateNetworks refuses private, loopback and
// link-local addresses for the resource, its metadata and the
// authorization server.

const (
	// protectedResourceKey is the getOAuthConfig key.
	protectedResourceKey = "protectedResource"
	// maxChallengeSize bounds the WWW-Authenticate headers read.
	maxChallengeSize = 8 << 10
)

// mcpState is the engine's protected resource discovery state.
type mcpState struct {
	// refusePrivate: WithoutPrivateNetworks.
	refusePrivate bool
	// lookup resolves host names for refusePrivate (tests replace it).
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// clientIDDocument: WithClientIDMetadataDocument.
	clientIDDocument string

	mu    sync.Mutex
	cache map[string]resourceEntry
}

type resourceEntry struct {
	md      resourceMetadata
	expires time.Time
}

// resourceMetadata is what the engine reads of a protected resource's
// metadata and challenge.
type resourceMetadata struct {
	resource string
	servers  []string
	scopes   []string
	// challengeScope is the scope of the 401's Bearer challenge.
	challengeScope string
}

// WithoutPrivateNetworks refuses protected resources (protectedResource),
// their metadata documents and their authorization servers on private,
// loopback, link-local and other non-public addresses: a server that lets
// end users name an MCP server turns it on, so that a user cannot make it
// talk to the network it runs in (SSRF). Names are checked before the
// first request, for a clear error, and every connection of such an auth
// block goes over a transport that refuses non-public peers after name
// resolution (layer_netguard.go), so a name answering differently each time
// (DNS rebinding) is refused too. The engine's transport must then be an
// *http.Transport (the default); it is used without an HTTP proxy.
func WithoutPrivateNetworks() Option { return func(e *Engine) { e.mcp.refusePrivate = true } }

// resourceIssuerKey marks a context whose OAuth config's issuer came from
// a user-chosen protected resource: applyDiscovery does not hold it to the
// connection input host rule (no configured secret goes there).
type resourceIssuerKey struct{}

// resourceChosenIssuer reports whether issuer came from a user-chosen
// protected resource's metadata (applyProtectedResource).
func resourceChosenIssuer(ctx context.Context, issuer string) bool {
	s, _ := ctx.Value(resourceIssuerKey{}).(string)
	return s != "" && s == issuer
}

// secretKeys are getOAuthConfig keys that hold a configured client secret.
var secretKeys = []string{"clientSecret", "clientPrivateKey"}

// applyProtectedResource runs protected resource discovery when raw
// (getOAuthConfig's result) has protectedResource: it sets issuer,
// resource, scopes (when the connector gave none) and, with a client ID
// metadata document, clientId. The returned context marks a user-chosen
// resource's issuer for applyDiscovery.
func (e *Engine) applyProtectedResource(ctx context.Context, a *Auth, raw map[string]any, input []inputValue) (context.Context, error) {
	v, ok := raw[protectedResourceKey]
	if !ok {
		// A resource the connector gives itself is where the access token
		// goes (the client may send it there, resourceBoundInput): the
		// host rule applies to it like to baseUri.
		if res, ok := raw["resource"].(string); ok && res != "" {
			if _, err := a.hosts.checkURL("resource", res, input, nil); err != nil {
				return ctx, err
			}
		}
		return ctx, nil
	}
	delete(raw, protectedResourceKey)
	resource, _ := v.(string)
	ru, err := checkResourceURL(protectedResourceKey, resource)
	if err != nil {
		return ctx, err
	}
	for _, k := range []string{"issuer", "discoveryUrl", "authorizeUri", "tokenUri", "refreshUri", "resource"} {
		if raw[k] != nil {
			return ctx, fmt.Errorf("getOAuthConfig gives both %s and %s: the protected resource's metadata names its authorization server and resource (RFC 9728); leave %s out", protectedResourceKey, k, k)
		}
	}
	if skip, _ := raw["skipPkce"].(bool); skip {
		return ctx, fmt.Errorf("getOAuthConfig sets skipPkce beside %s: the MCP authorization specification requires PKCE (S256)", protectedResourceKey)
	}
	// A resource whose host connection input chose is the end user's
	// choice: none of the connector's secrets may go where it points.
	userChosen := false
	if _, err := a.hosts.checkURL(protectedResourceKey, resource, input, nil); err != nil {
		var he *HostError
		if !errors.As(err, &he) {
			return ctx, err
		}
		userChosen = true
		for _, k := range secretKeys {
			if s, _ := raw[k].(string); s != "" {
				return ctx, fmt.Errorf("getOAuthConfig gives %s beside a %s the connection input chose (%s): the authorization server it names is the end user's choice, and a configured secret must not go there; use a public client (no secret: PKCE) or write the resource's host into the connector", k, protectedResourceKey, strings.Join(he.Input, ", "))
			}
		}
		if loc, _ := raw["clientAuthLocation"].(string); strings.Contains(loc, "tls_client_auth") {
			return ctx, fmt.Errorf("getOAuthConfig gives clientAuthLocation %s beside a %s the connection input chose (%s): the client certificate must not be presented to an authorization server of the end user's choosing", loc, protectedResourceKey, strings.Join(he.Input, ", "))
		}
	}
	if err := e.checkPublicAddress(ctx, protectedResourceKey, ru); err != nil {
		return ctx, err
	}
	md, err := e.protectedResourceMetadata(ctx, resource)
	if err != nil {
		return ctx, err
	}
	issuer := md.servers[0]
	iu, err := checkIssuerURL("authorization_servers[0]", issuer)
	if err != nil {
		return ctx, fmt.Errorf("protected resource metadata of %s: %w", resource, err)
	}
	if err := e.checkPublicAddress(ctx, "authorization server "+issuer, iu); err != nil {
		return ctx, err
	}
	if !userChosen && hostKey(iu) != hostKey(ru) && !a.hosts.allowsInputHost(hostKey(iu)) {
		// The connector's secrets may go to the authorization server: it
		// must be on the resource's host or one the connector allows.
		return ctx, fmt.Errorf("authorization server %s named by the protected resource metadata of %s: %w", issuer, resource,
			&HostError{Host: hostKey(iu), Allowed: []string{hostKey(ru) + " (the resource's host)", "the hosts and patterns the connector writes (auth.allowedHosts)"}})
	}
	asmd, err := e.authServerMetadata(ctx, issuer, "")
	if err != nil {
		return ctx, err
	}
	if methods, ok := asmd["code_challenge_methods_supported"].([]any); !ok || !slices.Contains(methods, any("S256")) {
		return ctx, fmt.Errorf("authorization server %s does not list S256 in code_challenge_methods_supported: the MCP authorization specification requires PKCE with S256 and refuses a server that does not advertise it", issuer)
	}
	raw["issuer"] = issuer
	raw["resource"] = md.resource
	if scopesEmpty(raw["scopes"]) {
		switch {
		case md.challengeScope != "":
			raw["scopes"] = md.challengeScope
			delete(raw, "scopeSeparator")
		case len(md.scopes) > 0:
			raw["scopes"] = md.scopes
		}
	}
	if err := e.applyClientIDDocument(raw, asmd); err != nil {
		return ctx, err
	}
	if userChosen {
		ctx = context.WithValue(ctx, resourceIssuerKey{}, issuer)
	}
	return ctx, nil
}

func scopesEmpty(v any) bool {
	switch s := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(s) == ""
	case []any:
		return len(s) == 0
	case []string:
		return len(s) == 0
	}
	return false
}

// checkResourceURL: an https URL (plain http on a loopback host) without
// user information or fragment (RFC 9728 section 1.2, RFC 8707 section 2).
func checkResourceURL(field, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") {
		return nil, fmt.Errorf("getOAuthConfig %s %.200q is not an https URL without user information or fragment", field, s)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackName(u.Hostname())) {
		return nil, fmt.Errorf("getOAuthConfig %s %.200q must be https (plain http only on a loopback host)", field, s)
	}
	return u, nil
}

// protectedResourceMetadata returns resource's metadata, cached per
// resource like authorization server metadata (failures are not).
func (e *Engine) protectedResourceMetadata(ctx context.Context, resource string) (resourceMetadata, error) {
	c := &e.mcp
	c.mu.Lock()
	ent, ok := c.cache[resource]
	c.mu.Unlock()
	if ok && e.now().Before(ent.expires) {
		return ent.md, nil
	}
	fctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	md, ttl, err := e.fetchResourceMetadata(fctx, resource)
	if err != nil {
		return resourceMetadata{}, err
	}
	c.mu.Lock()
	if c.cache == nil || len(c.cache) >= maxMetadataEntries {
		c.cache = map[string]resourceEntry{}
	}
	c.cache[resource] = resourceEntry{md: md, expires: e.now().Add(ttl)}
	c.mu.Unlock()
	return md, nil
}

func (e *Engine) fetchResourceMetadata(ctx context.Context, resource string) (resourceMetadata, time.Duration, error) {
	hc := e.tokenHTTPClient(ctx) // no redirects followed
	var md resourceMetadata
	metadataURL, scope, err := e.resourceChallenge(ctx, hc, resource)
	if err != nil {
		return md, 0, err
	}
	md.challengeScope = scope
	urls := resourceWellKnownURLs(resource)
	if metadataURL != "" {
		u, err := checkResourceURL("resource_metadata", metadataURL)
		if err != nil {
			return md, 0, fmt.Errorf("the 401 of %s names its metadata at %w", resource, err)
		}
		if err := e.checkPublicAddress(ctx, "resource_metadata", u); err != nil {
			return md, 0, err
		}
		urls = []string{metadataURL}
	}
	var failures []string
	for _, u := range urls {
		doc, ttl, status, err := getMetadata(ctx, hc, u)
		if err != nil {
			if status == 0 {
				return md, 0, fmt.Errorf("protected resource metadata of %s: %w", resource, err)
			}
			failures = append(failures, err.Error())
			continue
		}
		got, _ := doc["resource"].(string)
		if got != resource {
			return md, 0, fmt.Errorf("protected resource metadata at %s names resource %.200q, not %q (RFC 9728 section 3.3): refused", u, got, resource)
		}
		md.resource = got
		servers, _ := doc["authorization_servers"].([]any)
		for _, s := range servers {
			if s, ok := s.(string); ok && s != "" {
				md.servers = append(md.servers, s)
			}
		}
		if len(md.servers) == 0 {
			return md, 0, fmt.Errorf("protected resource metadata at %s lists no authorization_servers: the MCP authorization specification requires at least one", u)
		}
		scopes, _ := doc["scopes_supported"].([]any)
		for _, s := range scopes {
			if s, ok := s.(string); ok && s != "" {
				md.scopes = append(md.scopes, s)
			}
		}
		return md, ttl, nil
	}
	return md, 0, fmt.Errorf("no protected resource metadata for %s (no resource_metadata in a 401's WWW-Authenticate, none at the well-known URIs): %s", resource, strings.Join(failures, "; "))
}

// resourceChallenge asks resource without credentials; a 401 with a Bearer
// challenge gives the metadata URL and scope (RFC 9728 section 5.1, RFC
// 6750 section 3). Any other answer gives neither.
func (e *Engine) resourceChallenge(ctx context.Context, hc *http.Client, resource string) (metadataURL, scope string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resource, nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("protected resource %s: %w", resource, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusUnauthorized {
		return "", "", nil
	}
	n := 0
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		if n += len(h); n > maxChallengeSize {
			break
		}
		params, ok := bearerChallenge(h)
		if !ok {
			continue
		}
		return params["resource_metadata"], params["scope"], nil
	}
	return "", "", nil
}

// bearerChallenge reads the auth-params of the Bearer challenge in a
// WWW-Authenticate value (RFC 9110 section 11.6.1); other schemes' in the
// same value are skipped.
func bearerChallenge(h string) (map[string]string, bool) {
	var params map[string]string
	s := h
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return params, params != nil
		}
		i := strings.IndexAny(s, " \t,=")
		if i < 0 {
			i = len(s)
		}
		tok := strings.ToLower(s[:i])
		rest := strings.TrimLeft(s[i:], " \t")
		if !strings.HasPrefix(rest, "=") {
			// a scheme name (or a token68)
			if params != nil {
				return params, true // the Bearer challenge ended
			}
			if tok == "bearer" {
				params = map[string]string{}
			}
			s = rest
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			j := 1
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				b.WriteByte(rest[j])
			}
			val, s = b.String(), rest[min(j+1, len(rest)):]
		} else {
			k := strings.IndexAny(rest, " \t,")
			if k < 0 {
				k = len(rest)
			}
			val, s = rest[:k], rest[k:]
		}
		if _, dup := params[tok]; params != nil && !dup {
			params[tok] = val
		}
	}
}

// resourceWellKnownURLs: the metadata URI with the resource's path
// inserted after the well-known segment (RFC 9728 section 3.1), then at
// the root (MCP "Protected Resource Metadata Discovery Requirements").
func resourceWellKnownURLs(resource string) []string {
	u, _ := url.Parse(resource)
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	root := u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource"
	if path == "" {
		return []string{root}
	}
	return []string{root + path, root}
}

// checkPublicAddress refuses, with WithoutPrivateNetworks, a URL whose host
// is or resolves to a non-public address.
func (e *Engine) checkPublicAddress(ctx context.Context, what string, u *url.URL) error {
	if !e.mcp.refusePrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%s: %s is a loopback name, refused (the engine refuses private networks)", what, host)
	} else {
		lookup := e.mcp.lookup
		if lookup == nil {
			lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}
		}
		var err error
		if addrs, err = lookup(ctx, host); err != nil {
			return fmt.Errorf("%s: resolving %s: %w", what, host, err)
		}
	}
	for _, a := range addrs {
		if !netguard.Public(a) {
			return fmt.Errorf("%s: %s is on a private, loopback or link-local address (%s), refused (the engine refuses private networks)", what, host, a)
		}
	}
	return nil
}

// ResourceCredentialsKey is the credentials key where the engine keeps the
// protected resource a connection's tokens were bound to (RFC 8707) when
// getOAuthConfig gave protectedResource. Only the engine sets it: a token
// response or a connector's mapping cannot (credentialsFromToken keeps the
// old value).
const ResourceCredentialsKey = "oauth_resource"

type boundResourceKey struct{}

// withBoundResource tells storeFlowToken the resource the token is for.
func withBoundResource(ctx context.Context, resource string) context.Context {
	if resource == "" {
		return ctx
	}
	return context.WithValue(ctx, boundResourceKey{}, resource)
}

// bindResource sets creds' resource binding: the flow's (ctx), else the
// old credentials', never one from a token response or mapping.
func bindResource(ctx context.Context, creds, old map[string]any) {
	delete(creds, ResourceCredentialsKey)
	if res, _ := ctx.Value(boundResourceKey{}).(string); res != "" {
		creds[ResourceCredentialsKey] = res
	} else if v, ok := old[ResourceCredentialsKey]; ok {
		creds[ResourceCredentialsKey] = v
	}
}

// resourceBoundInput: the access token of a protected resource may go to
// that resource, even though the end user chose it (MCP: the server URL
// is connection input). When makeApiClient's baseUri has the origin of the
// resource the credentials are bound to, its host is not held to the
// connection input rule; any other baseUri is.
func resourceBoundInput(raw, creds map[string]any, input []inputValue) []inputValue {
	res, _ := creds[ResourceCredentialsKey].(string)
	base, _ := raw["baseUri"].(string)
	if res == "" || base == "" {
		return input
	}
	ru, err1 := url.Parse(res)
	bu, err2 := url.Parse(base)
	if err1 != nil || err2 != nil || ru.Host == "" || !strings.EqualFold(ru.Scheme, bu.Scheme) || !strings.EqualFold(ru.Host, bu.Host) || bu.User != nil {
		return input
	}
	return nil
}

// probeProtectedResource is the validate-time part of the MCP host rules,
// with the markers of probeInputHosts in the connection input: it reports
// whether makeApiClient's baseUri has the origin of getOAuthConfig's
// protectedResource (the token may go there: resourceBoundInput), and
// diagnoses a literal client secret beside a protectedResource that
// connection input chooses.
func probeProtectedResource(a *Auth) (baseIsResource bool, diags spec.Diagnostics) {
	g := a.Methods[spec.MethodGetOAuthConfig]
	if g == nil || g.Mapping == nil || g.Spec.Inherited {
		return false, nil
	}
	probe := a.hosts.probeInput(g, true)
	vars := map[string]any{
		"connectorParameters":  map[string]any{},
		"credentials":          map[string]any{},
		"connectionInput":      probe,
		"connectionParameters": probe,
		"redirectUri":          "https://connspec.invalid/oauth/callback",
		"state":                "state",
	}
	out, err := g.Mapping.Evaluate(vars)
	if err != nil {
		return false, nil
	}
	cfg := unwrapArgs(out)
	res, _ := cfg[protectedResourceKey].(string)
	if !strings.HasPrefix(res, "https://zq") {
		return false, nil // not from connection input
	}
	for _, k := range secretKeys {
		if s, _ := cfg[k].(string); s != "" {
			at := g.Spec.Body
			if n := resultField(g.Spec.Mapping, k); n != nil {
				at.Line, at.Column = n.Line, n.Column
			}
			diags = append(diags, at.Errorf("", "getOAuthConfig: %s beside a %s that connection input chooses: the authorization server the resource names is the end user's choice, and a configured secret must not go there; use a public client (PKCE, no secret)", k, protectedResourceKey))
		}
	}
	m := a.Methods[spec.MethodMakeAPIClient]
	if m == nil || m.Mapping == nil {
		return false, diags
	}
	out, err = m.Mapping.Evaluate(vars)
	if err != nil {
		return false, diags
	}
	base, _ := unwrapArgs(out)["baseUri"].(string)
	if base == "" {
		base, _ = unwrapArgs(out)["baseUrl"].(string)
	}
	ru, err1 := url.Parse(res)
	bu, err2 := url.Parse(base)
	return err1 == nil && err2 == nil && ru.Host != "" && ru.Scheme == bu.Scheme && ru.Host == bu.Host, diags
}
