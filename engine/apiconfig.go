package engine

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/connspec/connspec/formulas"
	"github.com/connspec/connspec/internal/suggest"
	"github.com/connspec/connspec/spec"
)

// apiConfig is makeApiClient's result, parsed once per credentials version.
type apiConfig struct {
	base    *url.URL
	headers http.Header
	query   url.Values
	// basic holds the Basic auth pair when auth {username, password} is set.
	basic    *[2]string
	handlers *formulas.Mapping
	// allowed are the hosts (host[:port], lower case) that may receive the
	// credentials: baseUri's host and auth.allowedHosts.
	allowed []string
	// hosts is the connector's host policy; its allowedHosts patterns
	// widen allowed.
	hosts *hostPolicy
}

// parseAPIConfig reads makeApiClient's result, flat or wrapped in args.
// baseUri passes the host policy with the connection's input and the
// provider's values (credentials).
func parseAPIConfig(result any, hosts *hostPolicy, allowedHosts []string, input []inputValue, provider []string) (*apiConfig, error) {
	m, err := apiClientResult(result)
	if err != nil {
		return nil, err
	}
	cfg := &apiConfig{headers: http.Header{}, query: url.Values{}}
	raw, _ := m["baseUri"].(string)
	if raw == "" {
		return nil, fmt.Errorf("returned no baseUri (or baseUrl)")
	}
	base, err := hosts.checkURL(baseName(result), raw, input, provider)
	if err != nil {
		return nil, err
	}
	cfg.base, cfg.hosts = base, hosts
	cfg.allowed = append(cfg.allowed, hostKey(base))
	for _, h := range allowedHosts {
		cfg.allowed = append(cfg.allowed, strings.ToLower(h))
	}
	if h, ok := m["headers"].(map[string]any); ok {
		for k, v := range h {
			s, ok := scalarString(v)
			if !ok {
				return nil, fmt.Errorf("header %s must be a string, not %s", k, describeValue(v))
			}
			if s != "" || v != nil {
				cfg.headers.Set(k, s)
			}
		}
	}
	if q, ok := m["query"].(map[string]any); ok {
		values, err := queryValues(q)
		if err != nil {
			return nil, err
		}
		cfg.query = values
	}
	if a, ok := m["auth"].(map[string]any); ok {
		if err := onlyKeys("auth", a, spec.IsAPIClientAuthKey, "username, password"); err != nil {
			return nil, err
		}
		user, _ := scalarString(a["username"])
		pass, _ := scalarString(a["password"])
		if user != "" || pass != "" {
			cfg.basic = &[2]string{user, pass}
		}
	}
	if h, ok := m["responseHandlers"].([]any); ok && len(h) > 0 {
		for i, item := range h {
			if hm, ok := item.(map[string]any); ok {
				if err := onlyKeys(fmt.Sprintf("responseHandlers[%d]", i), hm, spec.IsResponseHandlerKey, "match, isSuccess, error"); err != nil {
					return nil, err
				}
			}
		}
		// Handlers returned by JavaScript are plain values: compile them here.
		compiled, problems := formulas.CompileValue(h)
		if compiled == nil {
			return nil, fmt.Errorf("responseHandlers: %s", problems[0].Message)
		}
		cfg.handlers = compiled
	}
	return cfg, nil
}

// endsAuthority reports whether the untrusted value lv (lower case) holds
// host text that the authority of baseUri ends with, followed by term, the
// character that ends the authority there ('/', '?', '#' or '\'). That is
// how "evil.com#" turns https://{sub}.zendesk.com into https://evil.com,
// and it is found even when the value did not reach baseUri verbatim: cut
// by last(split(v, "-")), trimmed, or with its tail rewritten. A value that
// is a whole URL (host text right after "://") names its host on purpose,
// as a Salesforce instance_url does, and is left alone.
func endsAuthority(authority string, term byte, lv string) bool {
	for j := 0; j < len(lv); j++ {
		if lv[j] != term {
			continue
		}
		k := j
		for k > 0 && (isHostText(lv[k-1:k]) || lv[k-1] == ':') {
			k--
		}
		if k >= 3 && lv[k-3:k] == "://" {
			continue
		}
		run := lv[k:j]
		n := 0
		for n < len(run) && n < len(authority) && run[len(run)-1-n] == authority[len(authority)-1-n] {
			n++
		}
		// The shared tail must be the whole authority, or a host name of its
		// own (two labels at least: "evil.com", not just "com").
		shared := strings.TrimLeft(authority[len(authority)-n:], ".-:")
		if n > 0 && n == len(authority) || strings.Contains(shared, ".") && len(shared) >= 3 {
			return true
		}
	}
	return false
}

func isHostText(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// hostKey is the host and port of u in lower case, the port left out when it
// is the scheme's default.
func hostKey(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return host
	}
	return net.JoinHostPort(host, port)
}

// resolve turns a request path into a URL: a relative path is appended to
// baseUri (integration.app joins, it does not resolve: base /v1 + /users is
// /v1/users); an absolute URL is kept and checked by the caller.
func (cfg *apiConfig) resolve(target *url.URL) *url.URL {
	if target.IsAbs() {
		return target
	}
	u := *cfg.base
	if u.RawPath == "" && target.RawPath == "" && target.RawQuery == "" && target.Fragment == "" && cfg.base.RawQuery == "" {
		// The common case, without re-parsing: plain paths, no query.
		p := target.Path
		if p != "" && p[0] != '/' {
			p = "/" + p
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + p
		return &u
	}
	basePath := strings.TrimSuffix(u.EscapedPath(), "/")
	p := target.EscapedPath()
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if joined, err := url.Parse(basePath + p); err == nil {
		u.Path, u.RawPath = joined.Path, joined.RawPath
	}
	u.RawQuery = target.RawQuery
	if u.RawQuery == "" {
		u.RawQuery = cfg.base.RawQuery
	} else if cfg.base.RawQuery != "" {
		u.RawQuery = cfg.base.RawQuery + "&" + target.RawQuery
	}
	u.Fragment = ""
	return &u
}

// scalarString gives the text of a scalar; ok is false for objects and arrays.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.Itoa(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

// describeValue names a value's type without showing it (it may be secret).
func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		if v.(map[string]any) == nil {
			// unwrapArgs gives a nil map for a result that is not an
			// object, such as a mapping whose fields are all undefined.
			return "nothing"
		}
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, int, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// unwrapArgs returns makeApiClient's result as an object, flat or from
// under args; nil when it is not an object.
func unwrapArgs(result any) map[string]any {
	m, _ := result.(map[string]any)
	if args, ok := m["args"].(map[string]any); ok {
		return args
	}
	return m
}

// apiClientResult returns makeApiClient's result as an object under the
// names the engine reads: unwrapped from args, aliases (baseUrl,
// defaultQueryParameters) renamed, keys without a value left out. A key
// the engine does not use, a key beside args, or a key given under two
// names is an error naming the key (never its value, which may be
// secret): a dropped key would leave requests without the credentials the
// author put there. Applying it to its own output changes nothing.
func apiClientResult(result any) (map[string]any, error) {
	m := unwrapArgs(result)
	if m == nil {
		return nil, fmt.Errorf("must return an object (baseUri, headers, ...), not %s", describeValue(result))
	}
	if outer, _ := result.(map[string]any); outer != nil && len(outer) > 1 {
		if _, ok := outer["args"].(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(outer)) {
				if k != "args" {
					return nil, fmt.Errorf("returned %q beside args; with args, every key goes inside it", k)
				}
			}
		}
	}
	out := make(map[string]any, len(m))
	from := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] == nil {
			continue // undefined in JavaScript, or a formula without a value
		}
		key, ok := spec.APIClientKey(k)
		if !ok {
			return nil, fmt.Errorf("returned key %q, which connspec does not use (keys: %s)%s",
				k, strings.Join(spec.APIClientKeyNames(), ", "), suggest.Hint(k, spec.APIClientKeyNames()))
		}
		if other, dup := from[key]; dup {
			return nil, fmt.Errorf("returned both %s and %s, which name the same thing; keep one", other, k)
		}
		from[key] = k
		out[key] = m[k]
	}
	return out, nil
}

// onlyKeys refuses a key of the object m (at where) that known rejects.
func onlyKeys(where string, m map[string]any, known func(string) bool, names string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !known(k) {
			return fmt.Errorf("%s has key %q, which connspec does not use (keys: %s)", where, k, names)
		}
	}
	return nil
}

// baseName is the name the author gave the base URL, for messages.
func baseName(result any) string {
	if _, ok := unwrapArgs(result)["baseUrl"]; ok {
		return "baseUrl"
	}
	return "baseUri"
}

// overlayConfig puts a proxy connector's makeApiClient result over the
// underlying connection's: headers and query are merged key by key, other
// keys (baseUri, auth, responseHandlers) replaced.
func overlayConfig(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if (k == "headers" || k == "query") && bok && ook {
			merged := maps.Clone(bm)
			maps.Copy(merged, om)
			out[k] = merged
			continue
		}
		out[k] = v
	}
	return out
}
