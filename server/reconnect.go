package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
)

// A reconnect re-authorises an existing connection in place: the connect
// link names the connection (connectSession.ID); the new credentials are
// obtained and tested without touching the stored ones, the link is used
// up, and only then are the credentials replaced (Engine.Reauthorize, the
// engine's overwrite) and the connection marked connected. A failed or
// abandoned reconnect leaves the old credentials as they were.

// errLinkUsed is a reconnect whose link was already used.
var errLinkUsed = errors.New("this connect link was already used")

// reconnectRequest checks a connect session request naming an existing
// connection and takes its connector and option from it. It answers the
// request itself when it returns false.
func (s *Server) reconnectRequest(w http.ResponseWriter, r *http.Request, req *newSessionRequest) bool {
	info, err := s.cfg.Store.GetConnection(r.Context(), req.ConnectionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("reading a connection to reconnect", "connection", req.ConnectionID, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the connection could not be read")
		return false
	}
	// Another account's connection is as unknown as a missing one: the
	// answer does not tell that the id exists.
	if err != nil || info.Account != req.Account || !callerOf(r.Context()).allows(info.Account, info.Connector) {
		writeError(w, http.StatusNotFound, "not_found", "no connection with this id for this account")
		return false
	}
	if req.Connector != "" && req.Connector != info.Connector {
		writeError(w, http.StatusBadRequest, "connection_mismatch", fmt.Sprintf("connector %s does not match the connection's connector %s: leave connector out to reconnect", req.Connector, info.Connector))
		return false
	}
	if req.Option != "" && req.Option != info.Option {
		writeError(w, http.StatusBadRequest, "connection_mismatch", fmt.Sprintf("option %q does not match the connection's option %q: a reconnect keeps the connection's way to connect", req.Option, info.Option))
		return false
	}
	req.Connector, req.Option = info.Connector, info.Option
	return true
}

// reconnect re-authorises sess.ID with connection input typed into the
// connect form. It returns an authorization_required *connectError when a
// person must sign in at the provider (the caller starts that flow).
func (s *Server) reconnect(ctx context.Context, sess connectSession, info store.ConnectionInfo, link string) (store.ConnectionInfo, error) {
	old, err := s.cfg.Store.GetConnection(ctx, sess.ID)
	if err != nil || old.Account != sess.Account || old.Connector != info.Connector {
		return info, &connectError{status: http.StatusNotFound, code: "not_found", msg: "the connection to reconnect no longer exists"}
	}
	// Without an ID the client stores nothing: the stored credentials stay
	// in use until the new ones are tested.
	probe := info
	probe.ID = ""
	cl, err := s.cfg.Engine.Client(ctx, s.connection(probe))
	if err == nil && cl.HasTest() {
		err = cl.Test(ctx)
	}
	if err != nil {
		info.ID = sess.ID
		return info, s.classifyConnectError(cl, err)
	}
	info.ID, info.CreatedAt = old.ID, old.CreatedAt
	if err := s.commitReconnect(ctx, info, cl.Credentials(), link, sess); err != nil {
		return info, err
	}
	return info, nil
}

// commitReconnect uses up the connect link, then replaces the connection's
// credentials and input.
func (s *Server) commitReconnect(ctx context.Context, info store.ConnectionInfo, creds map[string]any, link string, sess connectSession) error {
	if err := s.cfg.Store.Use(ctx, link, time.Unix(sess.Expires, 0).Add(usedSlack)); err != nil {
		if errors.Is(err, store.ErrUsed) {
			s.log.Warn("connect link used twice: the reconnect was refused", "connection", info.ID)
			return errLinkUsed
		}
		s.log.Error("recording a used connect link", "error", err.Error())
		return &connectError{status: http.StatusServiceUnavailable, code: "store_error", msg: "the reconnect could not be recorded"}
	}
	if len(creds) > 0 {
		if err := s.cfg.Engine.Reauthorize(ctx, s.connection(info), creds); err != nil {
			s.log.Error("storing the credentials of a reconnect", "connection", info.ID, "error", err.Error())
			return &connectError{status: http.StatusInternalServerError, code: "store_error", msg: "the new credentials could not be stored"}
		}
	}
	if err := s.cfg.Store.PutConnection(ctx, info); err != nil {
		s.log.Error("recording a reconnected connection", "connection", info.ID, "error", err.Error())
		return &connectError{status: http.StatusInternalServerError, code: "store_error", msg: "the connection could not be stored"}
	}
	s.forget(info.ID)
	s.log.Info("connection reauthorized", "connection", info.ID, "connector", info.Connector, "account", info.Account)
	return nil
}

// reconnectCallback finishes the OAuth flow of a reconnect: the code is
// exchanged without the connection's ID (nothing stored), the new
// credentials tested, and then committed.
func (s *Server) reconnectCallback(w http.ResponseWriter, r *http.Request, flow oauthFlow, info store.ConnectionInfo) {
	ctx := r.Context()
	fail := func(err error) {
		reason := err.Error()
		s.log.Warn("reconnect failed: the stored credentials are kept", "connection", info.ID, "connector", info.Connector, "error", reason)
		s.callbackFailedKeep(w, r, flow, err)
	}
	old, err := s.cfg.Store.GetConnection(ctx, flow.Session.ID)
	if err != nil || old.Account != flow.Session.Account || old.Connector != info.Connector {
		fail(errors.New("the connection to reconnect no longer exists"))
		return
	}
	probe := info
	probe.ID = ""
	creds, err := s.cfg.Engine.CompleteAuthorization(ctx, s.connection(probe), r.URL.Query(), s.redirectURI(), flow.State, flow.Verifier)
	if err != nil {
		fail(err)
		return
	}
	conn := s.connection(probe)
	conn.Credentials = creds
	cl, err := s.cfg.Engine.Client(ctx, conn)
	if err == nil && cl.HasTest() {
		err = cl.Test(ctx)
	}
	if err != nil {
		if cl != nil {
			err = errors.New(cl.Redact(err.Error()))
		}
		fail(err)
		return
	}
	info.ID, info.CreatedAt = old.ID, old.CreatedAt
	if err := s.commitReconnect(ctx, info, cl.Credentials(), linkKey(flow.Token), flow.Session); err != nil {
		if errors.Is(err, errLinkUsed) {
			err = errors.New("this connect link was already used to reconnect the account")
		}
		fail(err)
		return
	}
	s.finish(w, r, flow.Session, info.ID, nil)
}

// reloadCached makes a cached client pick up a reconnect made through
// another server: new connection input rebuilds it, newer stored
// credentials are adopted.
func (s *Server) reloadCached(ctx context.Context, cc *cachedClient, info store.ConnectionInfo) (*engine.Client, bool) {
	if cc.fingerprint != fingerprint(info) {
		return nil, false
	}
	if err := cc.client.Reload(ctx); err != nil {
		s.log.Warn("reloading a connection's credentials", "connection", info.ID, "error", cc.client.Redact(err.Error()))
	}
	return cc.client, true
}
