package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/redact"
	"github.com/connspec/connspec/spec"
)

// connectSession is what a connect link carries, sealed: who may connect
// what, until when, and where to send them afterwards.
type connectSession struct {
	Connector string `json:"c"`
	Account   string `json:"a"`
	Option    string `json:"o,omitempty"`
	Redirect  string `json:"r,omitempty"`
	Expires   int64  `json:"e"`
	// ID is the existing connection a reconnect link re-authorises ("" : a
	// new connection).
	ID string `json:"id,omitempty"`
}

// oauthFlow is kept in a sealed cookie between the redirect to the provider
// and the callback: any server sharing the key can finish the flow.
type oauthFlow struct {
	Session  connectSession `json:"s"`
	Token    string         `json:"t"` // the connect link's token, to go back to the form
	ID       string         `json:"id"`
	Option   string         `json:"o,omitempty"`
	Input    map[string]any `json:"i,omitempty"`
	State    string         `json:"st"`
	Verifier string         `json:"v,omitempty"`
	Expires  int64          `json:"e"`
}

// formGrant is sealed into the hidden form_token field of the connect
// form: it is good for one connect link and one browser (the random value
// of its form cookie), so a page of another site cannot submit the form in
// a visitor's browser even with a link of its own.
type formGrant struct {
	Link    string `json:"l"` // linkKey of the connect link
	Browser string `json:"b"` // the form cookie's value
	Expires int64  `json:"e"`
}

const (
	purposeSession = "connect-session"
	purposeFlow    = "oauth-flow:"
	purposeForm    = "connect-form"
	flowTTL        = 15 * time.Minute
	callbackPath   = "/oauth/callback"
	formCookie     = "connspec_form"
	// usedSlack keeps a single-use record past the time its token expires,
	// for clocks of servers sharing a store that disagree.
	usedSlack = 5 * time.Minute
)

// linkKey is the single-use key of a connect link (a hash: the store never
// holds a working link).
func linkKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "connect-link:" + hex.EncodeToString(sum[:])
}

// flowKey is the single-use key of an OAuth flow.
func flowKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "oauth-flow:" + hex.EncodeToString(sum[:])
}

// formToken returns the form_token for the connect link of r, setting this
// browser's form cookie when it has none.
func (s *Server) formToken(w http.ResponseWriter, r *http.Request, sess connectSession) (string, error) {
	browser := ""
	if c, err := r.Cookie(formCookie); err == nil && len(c.Value) >= 22 {
		browser = c.Value
	} else {
		b := make([]byte, 18)
		rand.Read(b)
		browser = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: formCookie, Value: browser, Path: "/connect/", HttpOnly: true,
			Secure: s.publicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	}
	return s.seal(formGrant{Link: linkKey(r.PathValue("token")), Browser: browser, Expires: sess.Expires}, purposeForm)
}

// checkFormToken reports whether the submitted form_token was issued for
// this link to this browser.
func (s *Server) checkFormToken(r *http.Request) bool {
	var g formGrant
	c, err := r.Cookie(formCookie)
	if err != nil || s.open(r.PostForm.Get("form_token"), purposeForm, &g) != nil {
		return false
	}
	return g.Link == linkKey(r.PathValue("token")) && subtle.ConstantTimeCompare([]byte(g.Browser), []byte(c.Value)) == 1 &&
		time.Now().Unix() <= g.Expires
}

// seal encrypts v for one purpose into a URL-safe token.
func (s *Server) seal(v any, purpose string) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := s.cfg.Cipher.Seal(data, purpose)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString([]byte(sealed)), nil
}

// open decrypts a token made by seal for the same purpose.
func (s *Server) open(token, purpose string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return errors.New("malformed token")
	}
	data, err := s.cfg.Cipher.Open(string(raw), purpose)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// newSessionRequest is the body of POST /v1/connect-sessions.
type newSessionRequest struct {
	Connector   string `json:"connector"`
	Account     string `json:"account"`
	Option      string `json:"option"`
	RedirectURL string `json:"redirectUrl"`
	// ConnectionID asks for a reconnect of this existing connection.
	ConnectionID string `json:"connectionId"`
}

func (s *Server) createConnectSession(w http.ResponseWriter, r *http.Request) {
	var req newSessionRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be JSON {connector, account, option?, redirectUrl?, connectionId?}: "+describeJSONError(err))
		return
	}
	if req.ConnectionID != "" && !s.reconnectRequest(w, r, &req) {
		return
	}
	if !callerOf(r.Context()).allows(req.Account, req.Connector) {
		writeError(w, http.StatusForbidden, "key_limit", "this API key is limited to another account or connector")
		return
	}
	if req.Account == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "account is required: the connection is made for (or, with connectionId, belongs to) this account")
		return
	}
	c, ok := s.cfg.Engine.Connector(req.Connector)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_connector", "no connector with key "+req.Connector)
		return
	}
	if req.Option != "" && c.Spec.Auth.Options[req.Option] == nil {
		writeError(w, http.StatusBadRequest, "unknown_option", fmt.Sprintf("connector %s has no option %q", req.Connector, req.Option))
		return
	}
	if msg := s.unconfiguredSession(c, req.Option); msg != "" {
		writeError(w, http.StatusConflict, "connector_not_configured", msg)
		return
	}
	if req.RedirectURL != "" {
		u, err := url.Parse(req.RedirectURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeError(w, http.StatusBadRequest, "bad_request", "redirectUrl must be an absolute http(s) URL")
			return
		}
	}
	expires := time.Now().Add(s.cfg.SessionTTL).Truncate(time.Second)
	token, err := s.seal(connectSession{Connector: req.Connector, Account: req.Account, Option: req.Option, Redirect: req.RedirectURL, Expires: expires.Unix(), ID: req.ConnectionID}, purposeSession)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "the session could not be sealed")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": s.publicURL.String() + "/connect/" + token, "expiresAt": expires.UTC()})
}

// session opens the connect link of the request, or renders why it cannot.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (connectSession, *engine.Connector, bool) {
	var sess connectSession
	if err := s.open(r.PathValue("token"), purposeSession, &sess); err != nil {
		s.renderResult(w, http.StatusNotFound, "This link does not work", "The connect link is not valid. Ask for a new one.", false)
		return sess, nil, false
	}
	if time.Now().Unix() > sess.Expires {
		s.renderResult(w, http.StatusGone, "This link has expired", "Connect links work for a limited time. Ask for a new one.", false)
		return sess, nil, false
	}
	used, err := s.cfg.Store.Used(r.Context(), linkKey(r.PathValue("token")))
	if err != nil {
		s.log.Error("connect page: reading single-use records", "error", err.Error())
		s.renderResult(w, http.StatusServiceUnavailable, "Please try again later", "This service cannot check the link right now.", false)
		return sess, nil, false
	}
	if used {
		s.renderLinkUsed(w)
		return sess, nil, false
	}
	c, ok := s.cfg.Engine.Connector(sess.Connector)
	if !ok {
		s.renderResult(w, http.StatusNotFound, "Unknown connector", "This server no longer offers "+sess.Connector+".", false)
		return sess, nil, false
	}
	return sess, c, true
}

func (s *Server) connectPage(w http.ResponseWriter, r *http.Request) {
	sess, c, ok := s.session(w, r)
	if !ok {
		return
	}
	option := sess.Option
	if option == "" && sess.ID == "" {
		option = r.URL.Query().Get("option")
	}
	p := s.formPage(r, c, option)
	if sess.ID != "" {
		p.Options = nil // a reconnect keeps the connection's way to connect
	}
	if option == "" && sess.ID == "" && len(c.Spec.Auth.OptionKeys) > 1 && !baseUsable(c.Spec.Auth) {
		p.Fields = nil
		p.Choose = true
	}
	var err error
	if p.FormToken, err = s.formToken(w, r, sess); err != nil {
		s.renderResult(w, http.StatusInternalServerError, "Please try again later", "The form could not be prepared.", false)
		return
	}
	s.render(w, http.StatusOK, p)
}

// renderLinkUsed says a connect link has already produced its connection.
func (s *Server) renderLinkUsed(w http.ResponseWriter) {
	s.renderResult(w, http.StatusGone, "This link was already used",
		"A connect link connects one account, once. Ask for a new link to connect again.", false)
}

// baseUsable reports whether the base auth block is itself a way to connect.
func baseUsable(a *spec.Auth) bool { return a != nil && a.Type != "" }

// formPage describes the form for one auth option of a connector.
func (s *Server) formPage(r *http.Request, c *engine.Connector, option string) *page {
	sc := c.Spec
	p := &page{Connector: displayName(sc), Logo: newLogo(displayName(sc), sc.LogoURI), Action: r.URL.Path, Option: option}
	for _, k := range sc.Auth.OptionKeys {
		o := sc.Auth.Options[k]
		title := o.Title
		if title == "" {
			title = k
		}
		p.Options = append(p.Options, optionLink{Key: k, Title: title, Description: o.Description, Href: r.URL.Path + "?option=" + url.QueryEscape(k), Selected: k == option})
	}
	a := sc.Auth
	if option != "" && sc.Auth.Options[option] != nil {
		a = sc.Auth.Options[option]
	} else if !baseUsable(a) && len(sc.Auth.OptionKeys) == 1 {
		a = sc.Auth.Options[sc.Auth.OptionKeys[0]]
		p.Option = sc.Auth.OptionKeys[0]
	}
	ui := authUI(sc, a)
	if ui != nil {
		p.Description, p.HelpURI = ui.Description, safeLink(ui.HelpURI)
		if ui.Schema != nil {
			p.Fields = formFields(ui.Schema)
		}
	}
	p.Redirects = engine.HasAuthorizationFlow(a)
	return p
}

func displayName(c *spec.Connector) string {
	if c.Name != "" {
		return c.Name
	}
	return c.Key
}

// safeLink keeps only http(s) links, so a connector cannot put a
// javascript: URL on the page.
func safeLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return s
}

// formFields turns the top-level properties of a UI schema into form fields,
// in the order the connector lists them.
func formFields(sch *spec.JSONSchema) []field {
	props, _ := sch.Value["properties"].(map[string]any)
	order := append([]string(nil), sch.PropertyOrder...)
	var rest []string
	for k := range props {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	order = append(order, rest...)
	required := map[string]bool{}
	if req, ok := sch.Value["required"].([]any); ok {
		for _, k := range req {
			if ks, ok := k.(string); ok {
				required[ks] = true
			}
		}
	}
	var out []field
	for _, name := range order {
		prop, ok := props[name].(map[string]any)
		if !ok {
			continue
		}
		f := field{Name: name, Label: str(prop["title"]), Description: str(prop["description"]), Required: required[name], Kind: "text"}
		if f.Label == "" {
			f.Label = name
		}
		if p := str(prop["pattern"]); p != "" {
			f.Pattern = p
		}
		switch str(prop["type"]) {
		case "integer", "number":
			f.Kind = "number"
			if str(prop["type"]) == "number" {
				f.Step = "any"
			}
		case "boolean":
			f.Kind = "checkbox"
		case "object", "array":
			f.Kind = "json"
		}
		if enum, ok := prop["enum"].([]any); ok && len(enum) > 0 {
			f.Kind = "select"
			for _, e := range enum {
				f.Choices = append(f.Choices, fmt.Sprint(e))
			}
		}
		if f.Kind == "text" && redact.SecretField(name, prop) {
			f.Kind = "password"
		}
		if d, ok := prop["default"]; ok && f.Kind != "password" {
			f.Value = fmt.Sprint(d)
			f.Checked = d == true
		}
		out = append(out, f)
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// readInput converts the submitted form to connection input by the types
// the UI schema gives; empty fields are left out.
func readInput(r *http.Request, fields []field) (map[string]any, *field) {
	in := map[string]any{}
	for i := range fields {
		f := &fields[i]
		v := strings.TrimSpace(r.PostForm.Get("f_" + f.Name))
		if f.Kind == "checkbox" {
			in[f.Name] = v != ""
			continue
		}
		if f.Kind == "password" {
			v = r.PostForm.Get("f_" + f.Name) // secrets keep their spaces
		}
		if v == "" {
			continue
		}
		switch f.Kind {
		case "number":
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				f.Error = "Enter a number."
				return nil, f
			}
			in[f.Name] = n
		case "json":
			var x any
			if err := json.Unmarshal([]byte(v), &x); err != nil {
				f.Error = "Enter valid JSON."
				return nil, f
			}
			in[f.Name] = x
		default:
			in[f.Name] = v
		}
	}
	return in, nil
}

func (s *Server) connectSubmit(w http.ResponseWriter, r *http.Request) {
	sess, c, ok := s.session(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderResult(w, http.StatusBadRequest, "The form could not be read", "Please go back and try again.", false)
		return
	}
	if !s.checkFormToken(r) {
		s.renderResult(w, http.StatusForbidden, "This form cannot be accepted",
			"It was not sent from the connect page in this browser, or the page is too old. Open the connect link again.", false)
		return
	}
	option := r.PostForm.Get("option")
	if sess.Option != "" || sess.ID != "" {
		option = sess.Option
	}
	if option != "" && c.Spec.Auth.Options[option] == nil {
		s.renderResult(w, http.StatusBadRequest, "Unknown way to connect", "Please go back and choose again.", false)
		return
	}
	p := s.formPage(r, c, option)
	in, bad := readInput(r, p.Fields)
	if bad != nil {
		p.keepValues(r)
		s.render(w, http.StatusUnprocessableEntity, p)
		return
	}
	info := store.ConnectionInfo{Connector: c.Spec.Key, Option: p.Option, Account: sess.Account, Input: in}
	var err error
	if sess.ID != "" {
		info, err = s.reconnect(r.Context(), sess, info, linkKey(r.PathValue("token")))
		if err == nil {
			s.finish(w, r, sess, info.ID, nil)
			return
		}
		if errors.Is(err, errLinkUsed) {
			s.renderLinkUsed(w)
			return
		}
		if ce, ok := err.(*connectError); ok && (ce.code == "not_found" || ce.code == "store_error") {
			s.renderResult(w, ce.status, "This connection cannot be renewed", capitalize(ce.msg)+".", false)
			return
		}
	} else {
		info, err = s.connect(r.Context(), info)
	}
	var ce *connectError
	switch {
	case err == nil:
		if !s.useLink(w, r, sess, info.ID) {
			return
		}
		s.finish(w, r, sess, info.ID, nil)
		return
	case errors.As(err, &ce) && ce.code == "authorization_required":
		s.startOAuth(w, r, sess, info)
		return
	case errors.As(err, &ce) && ce.code == "invalid_input":
		p.setError(ce.field, ce.msg)
	case errors.As(err, &ce) && ce.code == "test_failed":
		// The details (the API's URL, its answer) are for the logs.
		s.log.Info("connect page: the connection test failed", "connector", info.Connector, "error", ce.msg)
		p.Error = "Connecting failed: " + displayName(c.Spec) + " did not accept these details. Check them and try again."
	case errors.As(err, &ce):
		s.log.Warn("connect page: connecting failed", "connector", info.Connector, "error", ce.msg)
		p.Error = "Connecting failed: " + displayName(c.Spec) + " could not be reached or refused the connection. Try again later."
	default:
		p.Error = "Connecting failed."
	}
	p.keepValues(r)
	if p.FormToken, err = s.formToken(w, r, sess); err != nil {
		s.renderResult(w, http.StatusInternalServerError, "Please try again later", "The form could not be prepared.", false)
		return
	}
	s.render(w, http.StatusUnprocessableEntity, p)
}

// useLink records that the connect link of r produced connection id. When
// another submit of the same link got there first (or the record cannot be
// written), the new connection is removed again and the page says why.
func (s *Server) useLink(w http.ResponseWriter, r *http.Request, sess connectSession, id string) bool {
	err := s.cfg.Store.Use(r.Context(), linkKey(r.PathValue("token")), time.Unix(sess.Expires, 0).Add(usedSlack))
	if err == nil {
		return true
	}
	if derr := s.cfg.Store.DeleteConnection(context.WithoutCancel(r.Context()), id); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		s.log.Error("removing the connection of a used link", "connection", id, "error", derr.Error())
	}
	if errors.Is(err, store.ErrUsed) {
		s.log.Warn("connect link used twice: the second connection was removed", "connection", id)
		s.renderLinkUsed(w)
		return false
	}
	s.log.Error("recording a used connect link", "error", err.Error())
	s.renderResult(w, http.StatusServiceUnavailable, "Please try again later", "The connection could not be recorded.", false)
	return false
}

// startOAuth sends the person to the provider, keeping the flow in a sealed
// cookie named after the state, so parallel flows in one browser coexist.
func (s *Server) startOAuth(w http.ResponseWriter, r *http.Request, sess connectSession, info store.ConnectionInfo) {
	info.ID = newID()
	if sess.ID != "" {
		info.ID = sess.ID
	}
	if msg := s.unconfigured(info.Connector, info.Option); msg != "" {
		s.log.Warn("connect page: "+msg, "connector", info.Connector)
		s.renderResult(w, http.StatusConflict, "This connection is not set up yet",
			"The service that sent you here has not finished setting up this connection. Please tell its support team.", false)
		return
	}
	if only, err := s.cfg.Engine.DeviceFlowOnly(r.Context(), s.connection(info)); err == nil && only {
		if sess.ID != "" {
			s.renderResult(w, http.StatusConflict, "This connection cannot be renewed here",
				"Reconnecting a connection that signs in with a device code is not supported yet. Ask for a link to connect anew.", false)
			return
		}
		s.startDevice(w, r, sess, info)
		return
	}
	ar, err := s.cfg.Engine.AuthorizationURL(r.Context(), s.connection(info), s.redirectURI())
	if err != nil {
		s.log.Warn("starting an authorization failed", "connector", info.Connector, "error", err.Error())
		s.renderResult(w, http.StatusBadGateway, "Could not start signing in", "The provider could not be reached or the connector is not set up for it: "+err.Error(), false)
		return
	}
	flow := oauthFlow{Session: sess, Token: r.PathValue("token"), ID: info.ID, Option: info.Option, Input: info.Input,
		State: ar.State, Verifier: ar.Verifier, Expires: time.Now().Add(flowTTL).Unix()}
	value, err := s.seal(flow, purposeFlow+ar.State)
	if err != nil {
		s.renderResult(w, http.StatusInternalServerError, "Could not start signing in", "Please try again.", false)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie(ar.State), Value: value, Path: callbackPath, MaxAge: int(flowTTL.Seconds()),
		HttpOnly: true, Secure: s.publicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, engine.RewriteURL(s.cfg.ConnectTo, ar.URL), http.StatusSeeOther)
}

func (s *Server) redirectURI() string { return s.publicURL.String() + callbackPath }

// flowCookie names the cookie of the flow with state.
func flowCookie(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "connspec_flow_" + hex.EncodeToString(sum[:8])
}

func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = q.Get("oauth_token") // OAuth 1.0a names the flow by its temporary token
	}
	cookie, err := r.Cookie(flowCookie(state))
	var flow oauthFlow
	if state == "" || err != nil || s.open(cookie.Value, purposeFlow+state, &flow) != nil || time.Now().Unix() > flow.Expires {
		s.renderResult(w, http.StatusBadRequest, "This sign-in cannot be finished",
			"It was started in another browser, has expired, or was already used. Open the connect link again.", false)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie(state), Value: "", Path: callbackPath, MaxAge: -1, HttpOnly: true, Secure: s.publicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	// A flow completes once, on whichever server sees it first: a replayed
	// cookie must not exchange another code or overwrite credentials.
	if err := s.cfg.Store.Use(r.Context(), flowKey(state), time.Unix(flow.Expires, 0).Add(usedSlack)); err != nil {
		if errors.Is(err, store.ErrUsed) {
			s.log.Warn("an OAuth callback was replayed: refused", "connection", flow.ID, "connector", flow.Session.Connector)
			s.renderResult(w, http.StatusBadRequest, "This sign-in was already finished",
				"Each sign-in completes once. Open the connect link again to start a new one.", false)
			return
		}
		s.log.Error("recording a finished OAuth flow", "error", err.Error())
		s.renderResult(w, http.StatusServiceUnavailable, "Please try again later", "This service cannot finish the sign-in right now.", false)
		return
	}
	info := store.ConnectionInfo{ID: flow.ID, Connector: flow.Session.Connector, Option: flow.Option, Account: flow.Session.Account, Input: flow.Input, CreatedAt: time.Now().UTC()}
	if flow.Session.ID != "" {
		s.reconnectCallback(w, r, flow, info)
		return
	}
	conn := s.connection(info)
	ctx := r.Context()
	if _, err := s.cfg.Engine.CompleteAuthorization(ctx, conn, q, s.redirectURI(), flow.State, flow.Verifier); err != nil {
		s.callbackFailed(w, r, flow, info, err)
		return
	}
	if err := s.recordFlowConnection(ctx, info, linkKey(flow.Token), flow.Session); err != nil {
		s.callbackFailed(w, r, flow, info, err)
		return
	}
	s.log.Info("connection created", "connection", info.ID, "connector", info.Connector, "account", info.Account)
	s.finish(w, r, flow.Session, info.ID, nil)
}

// callbackFailed forgets what the flow stored and says why it failed.
func (s *Server) callbackFailed(w http.ResponseWriter, r *http.Request, flow oauthFlow, info store.ConnectionInfo, err error) {
	if derr := s.cfg.Store.DeleteConnection(r.Context(), info.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		s.log.Error("cleaning up a failed authorization", "connection", info.ID, "error", derr.Error())
	}
	s.log.Warn("authorization failed", "connection", info.ID, "connector", info.Connector, "error", err.Error())
	s.callbackFailedKeep(w, r, flow, err)
}

// callbackFailedKeep says why a flow failed, changing nothing stored.
func (s *Server) callbackFailedKeep(w http.ResponseWriter, r *http.Request, flow oauthFlow, err error) {
	reason := err.Error()
	var cbErr *oauth2.CallbackError
	if errors.As(err, &cbErr) {
		reason = "the provider answered " + cbErr.Code
		if cbErr.Description != "" {
			reason += " (" + cbErr.Description + ")"
		}
	}
	s.finish(w, r, flow.Session, "", &flowError{reason: reason, status: failureStatus(cbErr)})
}

// flowError is a failed connect, with the status the page answers with.
type flowError struct {
	reason string
	status int
}

func (e *flowError) Error() string { return e.reason }

// failureStatus is 403 when the person or provider declined, 400 for other
// errors the provider reported, 502 when talking to it failed.
func failureStatus(cbErr *oauth2.CallbackError) int {
	switch {
	case cbErr == nil:
		return http.StatusBadGateway
	case cbErr.Code == "access_denied":
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// finish ends a connect: back to the embedder's redirect URL with the
// outcome in the query, or a page saying it.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, sess connectSession, id string, failure error) {
	if sess.Redirect != "" {
		u, _ := url.Parse(sess.Redirect)
		q := u.Query()
		q.Set("connector", sess.Connector)
		if failure != nil {
			q.Set("status", "error")
			q.Set("error", failure.Error())
		} else {
			q.Set("status", "connected")
			q.Set("connection", id)
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
		return
	}
	c, _ := s.cfg.Engine.Connector(sess.Connector)
	name := sess.Connector
	if c != nil {
		name = displayName(c.Spec)
	}
	if failure != nil {
		status := http.StatusBadGateway
		var fe *flowError
		if errors.As(failure, &fe) {
			status = fe.status
		}
		s.renderResult(w, status, "Connecting to "+name+" failed", capitalize(failure.Error())+".", false)
		return
	}
	s.renderResult(w, http.StatusOK, "Connected to "+name, "You can close this window.", true)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.TrimSuffix(s[1:], ".")
}
