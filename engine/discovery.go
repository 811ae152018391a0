package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Authorization server discovery (RFC 8414, OpenID Connect Discovery 1.0):
// getOAuthConfig may give issuer (and optionally discoveryUrl) instead of
// the endpoints; the engine fetches the server's metadata, checks that it
// names the same issuer, and fills in what the connector left out.

const (
	// maxMetadataSize bounds a metadata document.
	maxMetadataSize = 1 << 20
	// metadataDefaultTTL is how long metadata is kept without max-age;
	// metadataMaxTTL bounds a server's max-age.
	metadataDefaultTTL = time.Hour
	metadataMaxTTL     = 24 * time.Hour
	// maxMetadataEntries bounds the cache (one entry per issuer).
	maxMetadataEntries = 256
)

// metadataTimeout bounds one discovery (both well-known URLs); a variable
// for tests.
var metadataTimeout = 10 * time.Second

// metadataCache holds servers' metadata per issuer, fetched once however
// many clients ask at the same time (single flight).
type metadataCache struct {
	mu      sync.Mutex
	entries map[string]*metadataEntry
}

type metadataEntry struct {
	done    chan struct{} // closed when md/err are set
	md      map[string]any
	err     error
	expires time.Time
	// staleUntil bounds serving md after a failed refetch; stale marks a
	// copy served that way (discovery_stale.go).
	staleUntil time.Time
	stale      bool
}

// authServerMetadata returns the metadata of issuer, from discoveryURL when
// given, else from the RFC 8414 well-known URL with the OpenID Connect one
// as fallback.
func (e *Engine) authServerMetadata(ctx context.Context, issuer, discoveryURL string) (map[string]any, error) {
	c := &e.metadata
	key := issuer + "\x00" + discoveryURL
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*metadataEntry{}
	}
	ent := c.entries[key]
	var prev *metadataEntry // the expired entry being refetched
	if ent != nil {
		select {
		case <-ent.done:
			if !e.now().Before(ent.expires) {
				prev, ent = ent, nil
			}
		default: // in flight: wait for it below
		}
	}
	owner := ent == nil
	if owner {
		if len(c.entries) >= maxMetadataEntries {
			c.evictLocked(e.now())
		}
		ent = &metadataEntry{done: make(chan struct{})}
		c.entries[key] = ent
	}
	c.mu.Unlock()
	if owner {
		// Others wait for this fetch: it must not end with one caller's
		// context, only with its own timeout.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metadataTimeout)
		md, ttl, err := e.fetchMetadata(fctx, issuer, discoveryURL)
		cancel()
		ent.md, ent.err, ent.expires = md, err, e.now().Add(ttl)
		ent.staleUntil = staleUntilFor(ent.expires, ttl)
		stale := e.staleMetadata(issuer, prev, err)
		if stale != nil {
			ent.md, ent.err = stale.md, nil
		}
		close(ent.done)
		if err != nil { // failures are not cached; a stale copy is, briefly
			c.mu.Lock()
			if c.entries[key] == ent {
				if stale != nil {
					c.entries[key] = stale
				} else {
					delete(c.entries, key)
				}
			}
			c.mu.Unlock()
		}
	}
	select {
	case <-ent.done:
		return ent.md, ent.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// evictLocked drops expired entries, or else the one expiring first.
func (c *metadataCache) evictLocked(now time.Time) {
	var oldest string
	var at time.Time
	for k, ent := range c.entries {
		select {
		case <-ent.done:
		default:
			continue
		}
		if !now.Before(ent.expires) {
			delete(c.entries, k)
			continue
		}
		if oldest == "" || ent.expires.Before(at) {
			oldest, at = k, ent.expires
		}
	}
	if len(c.entries) >= maxMetadataEntries && oldest != "" {
		delete(c.entries, oldest)
	}
}

// wellKnownURLs are where issuer's metadata may be: RFC 8414 section 3 puts
// the well-known segment between the host and the issuer's path; OpenID
// Connect Discovery section 4 appends it.
func wellKnownURLs(issuer string) []string {
	u, _ := url.Parse(issuer)
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	rfc := *u
	rfc.RawPath, rfc.Path = "", ""
	return []string{
		rfc.String() + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
	}
}

func (e *Engine) fetchMetadata(ctx context.Context, issuer, discoveryURL string) (map[string]any, time.Duration, error) {
	urls := wellKnownURLs(issuer)
	if discoveryURL != "" {
		urls = []string{discoveryURL}
	}
	hc := e.tokenHTTPClient(ctx)
	var failures []string
	transient := false
	for _, u := range urls {
		md, ttl, status, err := getMetadata(ctx, hc, u)
		if err == nil {
			got, _ := md["issuer"].(string)
			if got != issuer {
				// RFC 8414 section 3.3: the endpoints would be someone
				// else's.
				return nil, 0, fmt.Errorf("authorization server metadata at %s names issuer %.200q, not the configured %q (RFC 8414 section 3.3): refused%s", u, got, issuer, issuerMismatchHint(got))
			}
			return md, ttl, nil
		}
		if status == 0 {
			return nil, 0, err // a transport or document failure: no fallback
		}
		failures = append(failures, err.Error())
		transient = transient || transientStatus(status)
	}
	err := fmt.Errorf("no authorization server metadata for issuer %s: %s", issuer, strings.Join(failures, "; "))
	if transient {
		return nil, 0, transientMetadataError{err}
	}
	return nil, 0, err
}

// getMetadata fetches one metadata document. status is set when the server
// answered other than 200 (the next well-known URL may have it).
func getMetadata(ctx context.Context, hc *http.Client, u string) (map[string]any, time.Duration, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, 0, transientMetadataError{fmt.Errorf("authorization server metadata %s: %w", u, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, 0, resp.StatusCode, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, 0, 0, transientMetadataError{fmt.Errorf("authorization server metadata %s: %w", u, err)}
	}
	if len(body) > maxMetadataSize {
		return nil, 0, 0, fmt.Errorf("authorization server metadata %s is larger than %d bytes: refused", u, maxMetadataSize)
	}
	var md map[string]any
	if err := json.Unmarshal(body, &md); err != nil || md == nil {
		return nil, 0, 0, fmt.Errorf("authorization server metadata %s is not a JSON object", u)
	}
	return md, metadataTTL(resp.Header.Get("Cache-Control")), 0, nil
}

// metadataTTL reads max-age (bounded), no-store and no-cache.
func metadataTTL(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "no-store" || d == "no-cache" {
			return 0
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err != nil || n < 0 {
				return metadataDefaultTTL
			}
			return min(time.Duration(n)*time.Second, metadataMaxTTL)
		}
	}
	return metadataDefaultTTL
}

// checkIssuerURL: an issuer is an https URL without query or fragment
// (RFC 8414 section 2); plain http only on a loopback host (tests, local
// servers).
func checkIssuerURL(field, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return nil, fmt.Errorf("getOAuthConfig %s %.200q is not an https URL without query or fragment", field, s)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackName(u.Hostname())) {
		return nil, fmt.Errorf("getOAuthConfig %s %.200q must be https (plain http only on a loopback host)", field, s)
	}
	return u, nil
}

// applyDiscovery fills raw (getOAuthConfig's result) from the metadata of
// raw's issuer, when it has one: the endpoints the connector did not give,
// and the client authentication method when it did not choose one; it
// refuses metadata that names another issuer, endpoints on hosts the
// connector does not allow, and a server that lists PKCE methods without
// S256 when the connector uses PKCE.
func (e *Engine) applyDiscovery(ctx context.Context, a *Auth, raw map[string]any, input []inputValue, redirect string) error {
	iv, hasIssuer := raw["issuer"]
	dv, hasDiscovery := raw["discoveryUrl"]
	if !hasIssuer && !hasDiscovery {
		return nil
	}
	delete(raw, "issuer")
	delete(raw, "discoveryUrl")
	issuer, _ := iv.(string)
	if issuer == "" {
		return errors.New("getOAuthConfig discoveryUrl needs issuer: the metadata's issuer is checked against it (RFC 8414 section 3.3)")
	}
	iu, err := checkIssuerURL("issuer", issuer)
	if err != nil {
		return err
	}
	if resourceChosenIssuer(ctx, issuer) {
		// named by a user-chosen protected resource; no configured secret
		// goes there (resourcemetadata.go)
	} else if _, err := a.hosts.checkURL("issuer", issuer, input, nil); err != nil {
		return err
	}
	discoveryURL := ""
	if hasDiscovery {
		if discoveryURL, _ = dv.(string); discoveryURL == "" {
			return errors.New("getOAuthConfig discoveryUrl must be a URL")
		}
		if _, err := checkIssuerURL("discoveryUrl", discoveryURL); err != nil {
			return err
		}
		// oauthConfigMap checked its host (a *Url field).
	}
	md, err := e.authServerMetadata(ctx, issuer, discoveryURL)
	if err != nil {
		return err
	}
	endpoint := func(mdKey, field string) error {
		if s, ok := raw[field].(string); ok && s != "" {
			return nil // the connector's own
		}
		v, ok := md[mdKey]
		if !ok {
			return nil
		}
		s, _ := v.(string)
		u, err := checkIssuerURL(mdKey, s)
		if err != nil {
			return fmt.Errorf("authorization server metadata of %s: %w", issuer, err)
		}
		// A discovered endpoint receives the client secret and codes: on
		// the issuer's host or one the connector allows, nowhere else.
		if host := hostKey(u); host != hostKey(iu) && !a.hosts.allowsInputHost(host) {
			return fmt.Errorf("%s (%s) from the authorization server metadata of %s: %w", field, mdKey, issuer,
				&HostError{Host: host, Allowed: []string{hostKey(iu) + " (the issuer's host)", "the hosts and patterns the connector writes (auth.allowedHosts)"}})
		}
		raw[field] = s
		return nil
	}
	if err := endpoint("authorization_endpoint", "authorizeUri"); err != nil {
		return err
	}
	if err := endpoint("token_endpoint", "tokenUri"); err != nil {
		return err
	}
	if _, ok := raw["refreshUri"]; !ok && raw["tokenUri"] != nil {
		raw["refreshUri"] = raw["tokenUri"]
	}
	grant, _ := raw["grantType"].(string)
	skip, _ := raw["skipPkce"].(bool)
	if methods, ok := md["code_challenge_methods_supported"].([]any); ok && !skip && grant != "client_credentials" && grant != "urn:ietf:params:oauth:grant-type:token-exchange" && !slices.Contains(methods, any("S256")) {
		return fmt.Errorf("authorization server %s lists code_challenge_methods_supported %v without S256, which the engine uses for PKCE: refused (set skipPkce only if the server has no PKCE)", issuer, methods)
	}
	if usesRegistration(raw) {
		c, err := e.registeredClient(ctx, a, issuer, iu, md, raw, redirect)
		if err != nil {
			return err
		}
		raw[registrationRawKey] = registrationUse{c: c, registered: true, issuer: issuer}
	}
	if _, ok := raw["clientAuthLocation"]; !ok {
		if methods, ok := md["token_endpoint_auth_methods_supported"].([]any); ok {
			switch {
			case slices.Contains(methods, any("client_secret_basic")):
				raw["clientAuthLocation"] = "headers"
			case slices.Contains(methods, any("client_secret_post")):
				raw["clientAuthLocation"] = "body"
			}
		}
	}
	return nil
}
