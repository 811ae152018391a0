package engine

import (
	"context"

	"github.com/connspec/connspec/spec"
)

// source is where a client's credentials come from and how they are
// renewed: stored (the kind obtains and renews them, the store keeps them),
// minted by the kind, supplied by an auth resolver, or those of the
// connection a proxy rides on. It is a layer beside the kind: a resolver
// supplies oauth2 or client-credentials credentials alike.
type source interface {
	// start returns a new client's first state, and whether its
	// credentials are new (reported to the credentials hook).
	start(ctx context.Context, cl *Client) (st *clientState, changed bool, err error)
	// canRenew reports whether st's credentials can be renewed.
	canRenew(cl *Client, st *clientState) bool
	// due reports whether st, renewable and not refused by the API, is to
	// be renewed before it is used.
	due(cl *Client, st *clientState) bool
	// renew replaces cur, with the client's renewal lock held. force is
	// set when the API refused cur.
	renew(ctx context.Context, cl *Client, cur *clientState, force bool) error
	// shared reports whether the credentials are the store's: renewals
	// then lock per connection ID across clients and record the
	// connection's state.
	shared() bool
}

// chooseSource picks a client's source: a resolver, when one is defined,
// stands in for how the kind obtains credentials; a session may bring its
// own (a proxy) or mint them; else they are stored.
func (cl *Client) chooseSource(resolver AuthResolver) source {
	switch s := cl.session.(type) {
	case interface{ source() source }:
		return s.source()
	}
	if resolver != nil {
		return resolverSource{resolve: resolver}
	}
	if m, ok := cl.session.(Minter); ok {
		return mintSource{mint: m}
	}
	return storedSource{}
}

// storedSource: credentials the store keeps, renewed by the kind (or the
// connector's refreshCredentials) through the engine's one renewal
// coordination (Client.renewStored).
type storedSource struct{}

func (storedSource) start(ctx context.Context, cl *Client) (*clientState, bool, error) {
	creds, version, changed, err := cl.initialCredentials(ctx)
	if err != nil {
		return nil, false, err
	}
	st, err := cl.buildState(ctx, creds, 1)
	if err != nil {
		return nil, false, err
	}
	st.storeVersion = version
	if cl.storedInitial {
		cl.recordState(ctx, st, nil)
	}
	return st, changed, nil
}

func (storedSource) canRenew(cl *Client, st *clientState) bool {
	return cl.auth.hasMethod(spec.MethodRefreshCredentials) || cl.session.CanRenew(st.credentials)
}

func (storedSource) due(cl *Client, st *clientState) bool {
	return !cl.session.Ready(st.credentials) || renewTimeReached(cl, st)
}

func (storedSource) renew(ctx context.Context, cl *Client, cur *clientState, force bool) error {
	return cl.renewStored(ctx, cur, force)
}

func (storedSource) shared() bool { return true }

// mintSource: credentials the kind mints, kept by no store.
type mintSource struct{ mint Minter }

func (s mintSource) start(ctx context.Context, cl *Client) (*clientState, bool, error) {
	creds, err := s.mint.Mint(ctx, cl)
	if err != nil {
		return nil, false, err
	}
	st, err := cl.buildState(ctx, creds, 1)
	return st, false, err
}

func (mintSource) canRenew(*Client, *clientState) bool { return true }

func (mintSource) due(cl *Client, st *clientState) bool { return renewTimeReached(cl, st) }

func (s mintSource) renew(ctx context.Context, cl *Client, cur *clientState, _ bool) error {
	creds, err := s.mint.Mint(ctx, cl)
	if err != nil {
		return err
	}
	next, err := cl.buildState(ctx, creds, cur.version+1)
	if err != nil {
		return err
	}
	cl.state.Store(next)
	return nil
}

func (mintSource) shared() bool { return false }

// renewTimeReached reports whether st's planned renewal time has come.
func renewTimeReached(cl *Client, st *clientState) bool {
	return !st.renewAt.IsZero() && !cl.eng.now().Before(st.renewAt)
}

// resolverSource: credentials an auth resolver supplies per account.
type resolverSource struct{ resolve AuthResolver }

func (s resolverSource) start(ctx context.Context, cl *Client) (*clientState, bool, error) {
	creds, until, err := cl.resolve(ctx, s.resolve, false, nil)
	if err != nil {
		return nil, false, err
	}
	st, err := cl.buildState(ctx, creds, 1)
	if err != nil {
		return nil, false, err
	}
	st.resolvedUntil = until
	return st, false, nil
}

func (resolverSource) canRenew(*Client, *clientState) bool { return true }

func (resolverSource) due(cl *Client, st *clientState) bool {
	if !st.resolvedUntil.IsZero() && !cl.eng.now().Before(st.resolvedUntil) {
		return true
	}
	return renewTimeReached(cl, st)
}

func (s resolverSource) renew(ctx context.Context, cl *Client, cur *clientState, force bool) error {
	creds, until, err := cl.resolve(ctx, s.resolve, force, cur.redact)
	if err != nil {
		return err
	}
	next, err := cl.buildState(ctx, creds, cur.version+1)
	if err != nil {
		return err
	}
	next.resolvedUntil = until
	cl.state.Store(next)
	return nil
}

func (resolverSource) shared() bool { return false }
