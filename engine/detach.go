package engine

import (
	"context"
	"time"
)

// renewalTimeout bounds a renewal that runs on after its caller gave up: the
// token request's own timeout (30 s, tokenHTTPClient) with room for the
// store's writes, or a refreshCredentials method's requests.
const renewalTimeout = time.Minute

// callerKey keeps, in a detached renewal's context, the context of the
// caller that asked for it.
type callerKey struct{}

// detachRenewal runs fn, a renewal, detached from ctx's cancellation: once
// its token request is sent, the provider may have rotated the refresh
// token, and a renewal cut short there would lose the new one (the next
// renewal presents the spent one: invalid_grant). fn runs to its end, bounded
// by renewalTimeout, and stores what it got; the caller returns as soon as
// ctx ends, with ctx's error. Before the token request is sent, fn still
// stops when the caller has given up (callerContext, callerGone).
func detachRenewal(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Done() == nil {
		return fn(ctx) // nothing can cancel it
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renewalTimeout)
	wctx = context.WithValue(wctx, callerKey{}, ctx)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- fn(wctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callerContext is the context of the caller of the detached renewal ctx
// belongs to (ctx itself outside one): for the steps before the token
// request (waiting for locks, reading the store), which stop when the
// caller gives up.
func callerContext(ctx context.Context) context.Context {
	if c, ok := ctx.Value(callerKey{}).(context.Context); ok {
		return c
	}
	return ctx
}

// callerGone returns the caller's error when the caller of the detached
// renewal ctx belongs to has given up: nothing is to be sent for it then.
func callerGone(ctx context.Context) error {
	return callerContext(ctx).Err()
}
