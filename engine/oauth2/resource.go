package oauth2

import (
	"errors"
	"net/url"
	"strings"
)

// Resource indicators (RFC 8707): Config.Resource names the protected
// resource a token is for. Section 2 asks for it in the authorization
// request (2.1) and in the token requests (2.2: the code exchange and
// refresh), so that the authorization server can bind the token's audience
// to that resource; the MCP authorization specification (2025-11-25,
// "Resource Parameter Implementation") requires it of MCP clients.

// checkResource: an absolute URI without fragment (RFC 8707 section 2).
func checkResource(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("oauth2: resource must be an absolute http or https URL (RFC 8707 section 2)")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return errors.New("oauth2: resource must not have a fragment (RFC 8707 section 2)")
	}
	return nil
}

// withResource sets the resource parameter of a token request when the
// config has one: it wins over a resource in TokenParams/RefreshParams.
func (c Config) withResource(params map[string]string) map[string]string {
	if c.Resource != "" {
		params["resource"] = c.Resource
	}
	return params
}
