package engine

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/connspec/connspec/spec"
)

func init() { RegisterKind(proxyType, KindFunc(openProxy)) }

const proxyType = "proxy"

// proxySession is a proxy connection: it rides on a connection of the
// connector or integration its proxyKey names, whose credentials and
// renewal it shares (its source), with its own makeApiClient on top.
type proxySession struct {
	BaseSession
	under *Client
}

func (s proxySession) source() source { return proxySource{under: s.under} }

// Ready is the underlying kind's: the credentials are the same.
func (s proxySession) Ready(creds map[string]any) bool { return s.under.session.Ready(creds) }

// Apply adds what the underlying connection's kind adds (a signature, a
// minted token): the proxy's state holds the underlying credentials.
func (s proxySession) Apply(req *http.Request, _ *Client, st *clientState) error {
	return s.under.session.Apply(req, s.under, st)
}

// openProxy opens the underlying connection: conn.Base, or one for the same
// account when a resolver or token type needs nothing stored.
func openProxy(ctx context.Context, cl *Client) (Session, error) {
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
	// The proxy's requests go out on the wire of the connection it rides
	// on, presenting that connection's client certificate.
	cl.wire, cl.baseWire = under.wire, under.baseWire
	return proxySession{under: under}, nil
}

// proxySource: the credentials of the underlying connection.
type proxySource struct{ under *Client }

func (s proxySource) start(ctx context.Context, cl *Client) (*clientState, bool, error) {
	st, err := s.state(ctx, cl, 1)
	return st, false, err
}

func (s proxySource) canRenew(_ *Client, st *clientState) bool {
	return st.base != s.under.state.Load() || s.under.canRefresh(st.base)
}

func (s proxySource) due(_ *Client, st *clientState) bool {
	ust := s.under.state.Load()
	return st.base != ust || s.under.needsRefresh(ust)
}

// renew renews the underlying connection (once, shared with every other
// user of it) when it is due or was rejected, then rebuilds.
func (s proxySource) renew(ctx context.Context, cl *Client, cur *clientState, force bool) error {
	ust := s.under.state.Load()
	if cur.base == ust && (force || s.under.needsRefresh(ust)) {
		err := s.under.refresh(ctx, ust.version, force)
		if err != nil && !(transientTokenError(err) && s.under.usable(ust)) {
			return err
		}
	}
	next, err := s.state(ctx, cl, cur.version+1)
	if err != nil {
		return err
	}
	cl.state.Store(next)
	return nil
}

func (proxySource) shared() bool { return false }

// state builds a proxy connection's state from the underlying one.
func (s proxySource) state(ctx context.Context, cl *Client, version int) (*clientState, error) {
	ust := s.under.state.Load()
	st, err := cl.buildState(ctx, ust.credentials, version)
	if err != nil {
		return nil, err
	}
	st.base, st.expiresAt, st.renewAt = ust, ust.expiresAt, ust.renewAt
	if st.wire == nil {
		// The underlying kind's transport (DPoP proofs for its token).
		st.wire = ust.wire
	}
	if st.config.handlers == nil {
		st.config.handlers = ust.config.handlers
	}
	st.redact = ust.redact.With(st.redact.Secrets()...)
	return st, nil
}

// configOverlay is a source whose clients build their API configuration on
// another's.
type configOverlay interface {
	overlay(raw map[string]any, allowed []string, hosts *hostPolicy, input []inputValue) (map[string]any, []string, *hostPolicy, []inputValue)
}

// overlay puts the proxy's makeApiClient result on the underlying
// connection's configuration.
func (s proxySource) overlay(raw map[string]any, allowed []string, hosts *hostPolicy, input []inputValue) (map[string]any, []string, *hostPolicy, []inputValue) {
	ust := s.under.state.Load()
	raw = overlayConfig(ust.raw, raw)
	allowed = append(slices.Clone(allowed), ust.config.allowed...)
	hosts = hosts.merge(ust.config.hosts)
	input = append(input, inputValues(s.under.conn.ConnectionParameters)...)
	return raw, allowed, hosts, input
}

// proxyCycles reports proxy connectors whose chain of proxyKeys comes back
// to itself, given every registered connector and integration.
func proxyCycles(connectors map[string]*Connector, integrations map[string]*Integration) spec.Diagnostics {
	next := func(key string) (string, *Connector) {
		if in, ok := integrations[key]; ok {
			key = in.Connector
		}
		c := connectors[key]
		if c == nil || c.Auth == nil || c.Auth.Spec.Type != proxyType {
			return "", c
		}
		return c.Auth.Spec.ProxyKey, c
	}
	var diags spec.Diagnostics
	for key, c := range connectors {
		if c.Auth == nil || c.Auth.Spec.Type != proxyType {
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
