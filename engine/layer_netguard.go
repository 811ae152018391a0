package engine

import (
	"fmt"
	"net/http"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/netguard"
	"github.com/connspec/connspec/spec"
)

// With WithoutPrivateNetworks, a connection whose servers the end user may
// choose (getOAuthConfig can give protectedResource) sends every request
// (discovery, registration, token, API, its methods' fetch) over a
// transport that connects only to public addresses. The check runs on the
// address actually connected to, after name resolution, so a name that
// resolves to a public address for the early check (checkPublicAddress)
// and to a private one for the connection (DNS rebinding) is refused too.

// userChosenServers reports whether a's getOAuthConfig may give
// protectedResource: its servers may then be the end user's choice.
func (a *Auth) userChosenServers() bool {
	m := a.Methods[spec.MethodGetOAuthConfig]
	if m == nil || m.Spec == nil {
		return false
	}
	return strings.Contains(m.Spec.Source, protectedResourceKey) || hasYAMLKey(m.Spec.Mapping, protectedResourceKey)
}

// hasYAMLKey reports whether a mapping anywhere under n has key.
func hasYAMLKey(n *yaml.Node, key string) bool {
	if n == nil {
		return false
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == key {
			return true
		}
		if hasYAMLKey(c, key) {
			return true
		}
	}
	return false
}

// guardedWire returns the engine's transport restricted to public
// addresses, built once. Only an *http.Transport can be restricted: any
// other transport is refused by name rather than used unguarded.
func (e *Engine) guardedWire() (http.RoundTripper, error) {
	e.guard.once.Do(func() {
		t, ok := e.transport.(*http.Transport)
		if !ok {
			e.guard.err = fmt.Errorf("WithoutPrivateNetworks needs the engine's transport to be an *http.Transport to keep connections off private networks, not %T", e.transport)
			return
		}
		e.guard.rt = e.traceWire(netguard.Transport(t))
	})
	return e.guard.rt, e.guard.err
}
