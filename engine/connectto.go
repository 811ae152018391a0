package engine

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ConnectTo sends the requests meant for one host to another address, for
// trying a connector unchanged against a local mock or a sandbox, in the
// spirit of curl's --connect-to. Only the network destination changes:
// the connector, its URLs and the host policy still see the original host,
// and the request keeps its Host header.
type ConnectTo struct {
	// Host is the host the connector names, with a port when it is not the
	// scheme's default ("api.example.com", "api.example.com:8443").
	Host string
	// Target is where its requests go instead: scheme, host and port, and
	// an optional path prefix.
	Target *url.URL
}

// ParseConnectTo reads "HOST=URL" (api.quickbooks.com=http://127.0.0.1:8080).
// A target that is not on this machine (localhost or a loopback address)
// is refused unless allowRemote is set: it would receive real credentials.
func ParseConnectTo(s string, allowRemote bool) (ConnectTo, error) {
	host, target, ok := strings.Cut(s, "=")
	host = strings.ToLower(strings.TrimSpace(host))
	if !ok || host == "" || strings.ContainsAny(host, "/?#@") {
		return ConnectTo{}, fmt.Errorf("connect-to: want HOST=URL, such as api.example.com=http://127.0.0.1:8080")
	}
	u, err := url.Parse(strings.TrimSpace(target))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// The target is not quoted: it could carry user information.
		return ConnectTo{}, fmt.Errorf("connect-to %s: the target must be an http(s) URL with a host, without user information, and at most a path", host)
	}
	if !allowRemote && !isLoopbackName(u.Hostname()) {
		return ConnectTo{}, fmt.Errorf("connect-to %s: the target %s is not on this machine; credentials would go there (allow it explicitly)", host, u.Host)
	}
	return ConnectTo{Host: host, Target: u}, nil
}

func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithConnectTo sends requests for the rules' hosts to their targets (see
// ConnectTo), below every client, token request and method call.
func WithConnectTo(rules ...ConnectTo) Option {
	return func(e *Engine) { e.connectTo = append(e.connectTo, rules...) }
}

// connectToTransport applies ConnectTo rules below the engine.
type connectToTransport struct {
	rules []ConnectTo
	next  http.RoundTripper
}

func (t *connectToTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rule, ok := matchConnectTo(t.rules, r.URL)
	if !ok {
		return t.next.RoundTrip(r)
	}
	out := r.Clone(r.Context())
	if out.Host == "" {
		out.Host = r.URL.Host
	}
	out.URL = rule.rewrite(r.URL)
	return t.next.RoundTrip(out)
}

// matchConnectTo finds the rule for u's host; a rule may name the
// scheme's default port or leave it out.
func matchConnectTo(rules []ConnectTo, u *url.URL) (ConnectTo, bool) {
	key := hostKey(u)
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	withPort := net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	for _, rule := range rules {
		if rule.Host == key || rule.Host == withPort {
			return rule, true
		}
	}
	return ConnectTo{}, false
}

// rewrite returns u sent to the rule's target.
func (c ConnectTo) rewrite(u *url.URL) *url.URL {
	out := *u
	out.Scheme, out.Host = c.Target.Scheme, c.Target.Host
	if p := strings.TrimSuffix(c.Target.Path, "/"); p != "" {
		out.Path = p + u.Path
		if u.RawPath != "" {
			out.RawPath = strings.TrimSuffix(c.Target.EscapedPath(), "/") + u.RawPath
		}
	}
	return &out
}

// RewriteURL returns raw as the rules send it: what a browser must open
// when the engine hands out a provider URL (the OAuth authorize page) of a
// host that is redirected. Other URLs are returned unchanged.
func RewriteURL(rules []ConnectTo, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if rule, ok := matchConnectTo(rules, u); ok {
		return rule.rewrite(u).String()
	}
	return raw
}
