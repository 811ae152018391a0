package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/spec"
)

// connectorView is a connector as the admin API shows it.
type connectorView struct {
	Key         string       `json:"key"`
	Name        string       `json:"name,omitempty"`
	Description string       `json:"description,omitempty"`
	LogoURI     string       `json:"logoUri,omitempty"`
	AuthType    string       `json:"authType,omitempty"`
	UI          *uiView      `json:"ui,omitempty"`
	Options     []optionView `json:"options,omitempty"`
}

type optionView struct {
	Key         string  `json:"key"`
	Title       string  `json:"title,omitempty"`
	Description string  `json:"description,omitempty"`
	AuthType    string  `json:"authType"`
	UI          *uiView `json:"ui,omitempty"`
}

type uiView struct {
	Schema      map[string]any `json:"schema,omitempty"`
	Description string         `json:"description,omitempty"`
	HelpURI     string         `json:"helpUri,omitempty"`
}

func viewUI(u *spec.UI) *uiView {
	if u == nil {
		return nil
	}
	v := &uiView{Description: u.Description, HelpURI: u.HelpURI}
	if u.Schema != nil {
		v.Schema = u.Schema.Value
	}
	return v
}

func viewConnector(c *engine.Connector, detail bool) connectorView {
	sc := c.Spec
	v := connectorView{Key: sc.Key, Name: sc.Name, Description: sc.Description, LogoURI: sc.LogoURI}
	if sc.Auth != nil {
		v.AuthType = sc.Auth.Type
		if detail {
			v.UI = viewUI(authUI(sc, sc.Auth))
		}
		for _, k := range sc.Auth.OptionKeys {
			o := sc.Auth.Options[k]
			ov := optionView{Key: k, Title: o.Title, Description: o.Description, AuthType: o.Type}
			if detail {
				ov.UI = viewUI(authUI(sc, o))
			}
			v.Options = append(v.Options, ov)
		}
	}
	return v
}

// authUI is the UI a person sees for an auth block: its own, else the
// connector's.
func authUI(c *spec.Connector, a *spec.Auth) *spec.UI {
	if a != nil && a.UI != nil {
		return a.UI
	}
	return c.UI
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	out := []connectorView{}
	for _, c := range s.cfg.Engine.Connectors() {
		out = append(out, viewConnector(c, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) {
	c, ok := s.cfg.Engine.Connector(r.PathValue("key"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no connector with this key")
		return
	}
	writeJSON(w, http.StatusOK, viewConnector(c, true))
}

// connectionView is a connection as the admin API shows it: never its
// input or credentials.
type connectionView struct {
	ID          string     `json:"id"`
	Connector   string     `json:"connector"`
	Option      string     `json:"option,omitempty"`
	Account     string     `json:"account,omitempty"`
	State       string     `json:"state"`
	LastError   string     `json:"lastError,omitempty"`
	NextRefresh *time.Time `json:"nextRefresh,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	// Error is "unreadable" for a stored row that cannot be read (see
	// store.ConnectionInfo.Unreadable); the details go to the log.
	Error string `json:"error,omitempty"`
}

func (s *Server) view(ctx context.Context, info store.ConnectionInfo) connectionView {
	v := connectionView{ID: info.ID, Connector: info.Connector, Option: info.Option, Account: info.Account, CreatedAt: info.CreatedAt, State: store.StatusConnected}
	rec, err := s.cfg.Store.Get(ctx, info.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.State = "no_credentials"
	case err != nil:
		v.State = "unknown"
	default:
		if rec.State.Status != "" {
			v.State = rec.State.Status
		}
		v.LastError = rec.State.LastError
		if !rec.State.NextRefresh.IsZero() {
			t := rec.State.NextRefresh
			v.NextRefresh = &t
		}
	}
	return v
}

// newConnectionRequest is the body of POST /v1/connections.
type newConnectionRequest struct {
	Connector string         `json:"connector"`
	Option    string         `json:"option"`
	Input     map[string]any `json:"input"`
	Account   string         `json:"account"`
}

const maxJSONBody = 1 << 20

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request) {
	var req newConnectionRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be JSON {connector, option?, input, account}: "+describeJSONError(err))
		return
	}
	if req.Connector == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "connector is required")
		return
	}
	if req.Account == "" {
		// As for connect sessions: a connection of no account is missing
		// from ?account= listings and cannot be reconnected by its owner.
		writeError(w, http.StatusBadRequest, "bad_request", "account is required: the connection is made for this account")
		return
	}
	info, err := s.connect(r.Context(), store.ConnectionInfo{Connector: req.Connector, Option: req.Option, Account: req.Account, Input: req.Input})
	if err != nil {
		s.writeConnectError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.view(r.Context(), info))
}

// describeJSONError says what is wrong with a JSON body without quoting it.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		return typ.Field + " has the wrong type"
	case errors.As(err, &tooBig):
		return "the body is larger than 1 MiB"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "unreadable body"
}

// connectError is a failed attempt to create a connection, said for the
// person or program that asked (free of secrets).
type connectError struct {
	status int
	code   string
	msg    string
	field  string
}

func (e *connectError) Error() string { return e.msg }

// connect creates a non-interactive connection: it validates the input,
// obtains credentials, runs the connector's test, and records the
// connection. On failure nothing is left stored.
func (s *Server) connect(ctx context.Context, info store.ConnectionInfo) (store.ConnectionInfo, error) {
	if _, ok := s.cfg.Engine.Connector(info.Connector); !ok {
		return info, &connectError{status: http.StatusNotFound, code: "unknown_connector", msg: "no connector with key " + info.Connector}
	}
	info.ID = newID()
	info.CreatedAt = time.Now().UTC()
	cl, err := s.cfg.Engine.Client(ctx, s.connection(info))
	if err == nil && cl.HasTest() {
		err = cl.Test(ctx)
	}
	if err != nil {
		// Credentials may have been stored on the way; leave nothing behind.
		if derr := s.cfg.Store.DeleteConnection(context.WithoutCancel(ctx), info.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			s.log.Error("cleaning up a failed connection", "connection", info.ID, "error", derr.Error())
		}
		return info, s.classifyConnectError(cl, err)
	}
	if err := s.cfg.Store.PutConnection(ctx, info); err != nil {
		s.log.Error("recording a connection", "connection", info.ID, "error", err.Error())
		return info, &connectError{status: http.StatusInternalServerError, code: "store_error", msg: "the connection could not be stored"}
	}
	s.log.Info("connection created", "connection", info.ID, "connector", info.Connector, "account", info.Account)
	return info, nil
}

// classifyConnectError turns an engine error into an answer. Engine errors
// are free of secrets; the client's redactor is applied once more for
// anything a connector's own code wrote into a message.
func (s *Server) classifyConnectError(cl *engine.Client, err error) error {
	msg := err.Error()
	if cl != nil {
		msg = cl.Redact(msg)
	}
	var inputErr *engine.InputError
	switch {
	case errors.As(err, &inputErr):
		return &connectError{status: http.StatusUnprocessableEntity, code: "invalid_input", msg: inputErr.Error(), field: inputErr.Field}
	case errors.Is(err, engine.ErrAuthorizationRequired):
		return &connectError{status: http.StatusConflict, code: "authorization_required", msg: "this connector needs a person to authorize it: create a connect session (POST /v1/connect-sessions) and send them its URL"}
	case errors.Is(err, engine.ErrTestFailed):
		return &connectError{status: http.StatusUnprocessableEntity, code: "test_failed", msg: msg}
	}
	return &connectError{status: http.StatusBadGateway, code: "connect_failed", msg: msg}
}

func (s *Server) writeConnectError(w http.ResponseWriter, err error) {
	var ce *connectError
	if !errors.As(err, &ce) {
		ce = &connectError{status: http.StatusInternalServerError, code: "internal", msg: "internal error"}
	}
	writeJSON(w, ce.status, apiError{Error: ce.code, Message: ce.msg, Field: ce.field})
}

// connection is the engine's view of a stored connection.
func (s *Server) connection(info store.ConnectionInfo) engine.Connection {
	conn := engine.Connection{
		ID:                   info.ID,
		Connector:            info.Connector,
		Option:               info.Option,
		ConnectorParameters:  s.cfg.ConnectorParameters[info.Connector],
		ConnectionParameters: info.Input,
	}
	if info.Account != "" {
		conn.Account = &engine.Account{ID: info.Account}
	}
	return conn
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) {
	infos, err := s.cfg.Store.ListConnections(r.Context(), r.URL.Query().Get("account"))
	if err != nil {
		s.log.Error("listing connections", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the connections could not be read")
		return
	}
	out := make([]connectionView, 0, len(infos))
	for _, info := range infos {
		if info.Unreadable != nil {
			s.log.Error("listing connections: a stored connection cannot be read", "connection", info.ID, "error", info.Unreadable.Error())
			out = append(out, connectionView{ID: info.ID, Connector: info.Connector, Option: info.Option, Account: info.Account,
				CreatedAt: info.CreatedAt, State: "unreadable", Error: "unreadable"})
			continue
		}
		out = append(out, s.view(r.Context(), info))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request) {
	info, ok := s.lookup(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), info))
}

// lookup reads the connection named in the path, answering 404 or 500 itself.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (store.ConnectionInfo, bool) {
	info, err := s.cfg.Store.GetConnection(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no connection with this id")
		return info, false
	case err != nil:
		s.log.Error("reading a connection", "connection", r.PathValue("id"), "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the connection could not be read")
		return info, false
	}
	return info, true
}

// deleteConnection runs the connector's disconnect (best effort: the
// provider may already have revoked access) and forgets the connection.
func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request) {
	info, ok := s.lookup(w, r)
	if !ok {
		return
	}
	disconnected := "none"
	if cl, err := s.cfg.Engine.Client(r.Context(), s.connection(info)); err == nil && cl.HasDisconnect() {
		disconnected = "ok"
		if err := cl.Disconnect(r.Context()); err != nil {
			disconnected = "failed"
			s.log.Warn("disconnect method failed; forgetting the connection anyway", "connection", info.ID, "error", cl.Redact(err.Error()))
		}
	}
	s.forget(info.ID)
	if err := s.cfg.Store.DeleteConnection(r.Context(), info.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("deleting a connection", "connection", info.ID, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the connection could not be deleted")
		return
	}
	s.log.Info("connection deleted", "connection", info.ID, "disconnect", disconnected)
	writeJSON(w, http.StatusOK, map[string]string{"id": info.ID, "deleted": "true", "disconnect": disconnected})
}

// newID returns a fresh connection id: "conn_" and 26 random base32 letters.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "conn_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// cachedClient is a client kept between proxy requests, so makeApiClient
// runs once per credentials version rather than once per request.
type cachedClient struct {
	client    *engine.Client
	connector string
	checked   time.Time
	// fingerprint is of the connection's option and input the client was
	// made with: a reconnect that changes them rebuilds the client.
	fingerprint [32]byte
}

// fingerprint hashes what a client is made from besides credentials.
func fingerprint(info store.ConnectionInfo) [32]byte {
	data, _ := json.Marshal([]any{info.Connector, info.Option, info.Input})
	return sha256.Sum256(data)
}

// client returns the cached client of a connection, looking the connection
// up again when the entry is older than RecheckAfter.
func (s *Server) client(ctx context.Context, id string) (*cachedClient, error) {
	s.mu.Lock()
	cc := s.clients[id]
	s.mu.Unlock()
	if cc != nil && time.Since(cc.checked) < s.cfg.RecheckAfter {
		return cc, nil
	}
	info, err := s.cfg.Store.GetConnection(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.forget(id)
		}
		return nil, store.Unavailable(err)
	}
	if cc != nil {
		if cl, ok := s.reloadCached(ctx, cc, info); ok {
			fresh := &cachedClient{client: cl, connector: cc.connector, checked: time.Now(), fingerprint: cc.fingerprint}
			s.mu.Lock()
			s.clients[id] = fresh
			s.mu.Unlock()
			return fresh, nil
		}
		s.forget(id) // reconnected with new input: made anew below
	}
	cl, err := s.cfg.Engine.Client(ctx, s.connection(info))
	if err != nil {
		return nil, err
	}
	cc = &cachedClient{client: cl, connector: info.Connector, checked: time.Now(), fingerprint: fingerprint(info)}
	s.mu.Lock()
	if prev := s.clients[id]; prev != nil && prev.fingerprint == cc.fingerprint {
		cc = prev // another request built one first: share it
	} else {
		s.clients[id] = cc
	}
	s.mu.Unlock()
	return cc, nil
}

func (s *Server) forget(id string) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
}
