package engine

import (
	"context"
	"errors"
)

// Reauthorize replaces the stored credentials of connection conn.ID with creds
// obtained by a new authorization (a reconnect), whatever version is
// stored, and marks the connection connected again. Clients of the
// connection, in this process or another sharing the store, adopt the new
// version (see Client.Reload).
func (e *Engine) Reauthorize(ctx context.Context, conn Connection, creds map[string]any) error {
	if conn.ID == "" {
		return errors.New("reauthorize: the connection has no id")
	}
	if len(creds) == 0 {
		return errors.New("reauthorize: the new authorization produced no credentials")
	}
	if err := e.overwrite(ctx, conn, creds); err != nil {
		return redactError(err, newRedactor(creds))
	}
	return nil
}

// Reload makes the client use the store's credentials when they are newer
// than its own (a reconnect, or a renewal by another instance), reviving a
// connection that needed a new authorization. It does nothing for a
// connection without an ID or whose credentials are not shared.
func (cl *Client) Reload(ctx context.Context) error {
	if cl.conn.ID == "" || !cl.src.shared() {
		return nil
	}
	unlock := cl.lock()
	defer unlock()
	if cl.defunct.Load() != nil {
		// Adopts newer credentials, else stays defunct: requests say why.
		_ = cl.checkDefunctLocked(ctx)
		return nil
	}
	if err := cl.flushUnstored(ctx); err != nil {
		return err
	}
	_, err := cl.adoptStored(ctx, cl.state.Load())
	return err
}
