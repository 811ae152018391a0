package engine

import (
	"context"
	"fmt"

	"github.com/connspec/connspec/spec"
)

// startProxy makes a proxy connection: it rides on a connection of the
// connector or integration its proxyKey names (conn.Base, or one for the
// same account when a resolver or token type needs nothing stored), whose
// credentials and refresh it shares.
func (cl *Client) startProxy(ctx context.Context) (*Client, error) {
	key := cl.auth.Spec.ProxyKey
	base := Connection{Connector: key, Account: cl.conn.Account}
	if cl.conn.Base != nil {
		base = *cl.conn.Base
		if base.Connector == "" {
			base.Connector = key
		}
	}
	info, _, _, _, err := cl.eng.target(base.Connector)
	if err != nil {
		return nil, err
	}
	if info.ID != key && info.Connector != key {
		return nil, fmt.Errorf("connector %s rides on %s, but its base connection is for %s", cl.connector.Spec.Key, key, base.Connector)
	}
	under, err := cl.eng.client(ctx, base, true)
	if err != nil {
		return nil, fmt.Errorf("the %s connection %s rides on: %w", key, cl.connector.Spec.Key, err)
	}
	cl.underlying = under
	st, err := cl.proxyState(ctx, 1)
	if err != nil {
		return nil, err
	}
	cl.state.Store(st)
	return cl, nil
}

// proxyState builds a proxy connection's state from the underlying one.
func (cl *Client) proxyState(ctx context.Context, version int) (*clientState, error) {
	ust := cl.underlying.state.Load()
	st, err := cl.buildState(ctx, ust.credentials, version)
	if err != nil {
		return nil, err
	}
	st.base, st.expiresAt, st.renewAt = ust, ust.expiresAt, ust.renewAt
	if st.config.handlers == nil {
		st.config.handlers = ust.config.handlers
	}
	st.redact = ust.redact.With(st.redact.Secrets()...)
	return st, nil
}

// refreshProxy renews the underlying connection (once, shared with every
// other user of it) when it is due or was rejected, then rebuilds.
func (cl *Client) refreshProxy(ctx context.Context, cur *clientState, force bool) error {
	ust := cl.underlying.state.Load()
	if cur.base == ust && (force || cl.underlying.needsRefresh(ust)) {
		err := cl.underlying.refresh(ctx, ust.version, force)
		if err != nil && !(transientTokenError(err) && cl.underlying.usable(ust)) {
			return err
		}
	}
	next, err := cl.proxyState(ctx, cur.version+1)
	if err != nil {
		return err
	}
	cl.state.Store(next)
	return nil
}

// proxyCycles reports proxy connectors whose chain of proxyKeys comes back
// to itself, given every registered connector and integration.
func proxyCycles(connectors map[string]*Connector, integrations map[string]*Integration) spec.Diagnostics {
	next := func(key string) (string, *Connector) {
		if in, ok := integrations[key]; ok {
			key = in.Connector
		}
		c := connectors[key]
		if c == nil || c.Auth == nil || c.Auth.Spec.Type != "proxy" {
			return "", c
		}
		return c.Auth.Spec.ProxyKey, c
	}
	var diags spec.Diagnostics
	for key, c := range connectors {
		if c.Auth == nil || c.Auth.Spec.Type != "proxy" {
			continue
		}
		seen := map[string]bool{key: true}
		chain := []string{key}
		for k := c.Auth.Spec.ProxyKey; k != ""; {
			if seen[k] {
				chain = append(chain, k)
				pos := c.Auth.Spec.Pos
				pos.File = c.Spec.DisplayPath(pos.File)
				diags = append(diags, pos.Errorf("/auth/proxyKey", "proxy cycle: %s", joinChain(chain)))
				break
			}
			seen[k] = true
			chain = append(chain, k)
			k, _ = next(k)
		}
	}
	return diags
}

func joinChain(keys []string) string {
	s := keys[0]
	for _, k := range keys[1:] {
		s += " -> " + k
	}
	return s
}
