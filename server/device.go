package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"rsc.io/qr"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/engine/store"
)

// The connect page's device flow (RFC 8628), for auth options whose
// getOAuthConfig gives deviceAuthorizationUri and no authorizeUri
// (engine.DeviceFlowOnly): the page shows the user code, the verification
// link and a QR code, this server polls the token endpoint in the
// background, and the page (refreshing itself) moves to the usual outcome.
//
// The device code is a secret that exists only in this process (the
// engine's DeviceAuthorization handle): it is never sealed into a cookie or
// a URL. The status URL carries a sealed devicePoll naming the flow and the
// server instance that owns it; another server sharing the key says so
// instead of guessing (put the connect page behind sticky sessions when
// several servers share one public URL).

const (
	purposeDevicePoll = "device-poll"
	devicePathPrefix  = "/device/"
	// maxDeviceFlows bounds the device flows one server polls at once.
	maxDeviceFlows = 1000
	// deviceFlowCap bounds how long one flow is polled, whatever expires_in
	// the provider sent.
	deviceFlowCap = 30 * time.Minute
	// deviceKeep is how long a finished flow's outcome stays answerable.
	deviceKeep = 10 * time.Minute
	// maxQRText is the longest link drawn as a QR code.
	maxQRText = 512
)

// devicePoll is sealed into a device flow's status URL.
type devicePoll struct {
	ID       string `json:"id"`
	Link     string `json:"l"` // linkKey of the connect link
	Instance string `json:"n"`
	Expires  int64  `json:"e"`
}

// deviceFlows are the device flows this server runs.
type deviceFlows struct {
	instance string
	ctx      context.Context // ends when the server is closed
	stop     context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	flows  map[string]*deviceFlow // by devicePoll.ID
	byLink map[string]*deviceFlow // the pending flow of a connect link
}

// deviceFlow is one device flow and, once finished, its outcome.
type deviceFlow struct {
	sess    connectSession
	link    string // linkKey
	browser string // the form cookie of the browser that started it
	view    deviceView
	cancel  context.CancelFunc

	// Set when done is closed.
	done    chan struct{}
	id      string
	failure *flowError
	keep    time.Time
}

// deviceView is what the page shows of a device flow.
type deviceView struct {
	UserCode        string
	VerificationURI string
	CompleteURI     string
	QR              template.HTML
	Expires         string
}

func (d *deviceFlows) init() {
	b := make([]byte, 12)
	rand.Read(b)
	d.instance = base64.RawURLEncoding.EncodeToString(b)
	d.ctx, d.stop = context.WithCancel(context.Background())
	d.flows = map[string]*deviceFlow{}
	d.byLink = map[string]*deviceFlow{}
}

// Close stops the device flows this server is polling (their pages then
// say the server stopped) and waits for them to clean up. Call it after
// the HTTP server has shut down.
func (s *Server) Close() error {
	s.dev.stop()
	s.dev.wg.Wait()
	return nil
}

// startDevice starts the device flow for info and sends the browser to its
// status page.
func (s *Server) startDevice(w http.ResponseWriter, r *http.Request, sess connectSession, info store.ConnectionInfo) {
	conn := s.connection(info)
	da, err := s.cfg.Engine.StartDeviceAuthorization(r.Context(), conn)
	if err != nil {
		s.log.Warn("starting a device authorization failed", "connector", info.Connector, "error", err.Error())
		s.renderResult(w, http.StatusBadGateway, "Could not start signing in", "The provider could not be reached or the connector is not set up for it: "+err.Error(), false)
		return
	}
	view := deviceView{UserCode: da.UserCode, VerificationURI: safeLink(da.VerificationURI), CompleteURI: safeLink(da.VerificationURIComplete)}
	if view.VerificationURI == "" || da.UserCode == "" {
		s.log.Warn("the provider's device authorization has no usable verification_uri or user_code", "connector", info.Connector)
		s.renderResult(w, http.StatusBadGateway, "Could not start signing in", "The provider sent no usable verification address or code.", false)
		return
	}
	qrText := view.CompleteURI
	if qrText == "" {
		qrText = view.VerificationURI
	}
	view.QR = qrSVG(qrText)
	deadline := time.Now().Add(deviceFlowCap)
	if !da.ExpiresAt.IsZero() && da.ExpiresAt.Before(deadline) {
		deadline = da.ExpiresAt
	}
	view.Expires = deadline.UTC().Format("15:04 UTC")
	browser := ""
	if c, err := r.Cookie(formCookie); err == nil {
		browser = c.Value
	}
	id := newID()
	poll, err := s.seal(devicePoll{ID: id, Link: linkKey(r.PathValue("token")), Instance: s.dev.instance, Expires: deadline.Add(deviceKeep).Unix()}, purposeDevicePoll)
	if err != nil {
		s.renderResult(w, http.StatusInternalServerError, "Could not start signing in", "Please try again.", false)
		return
	}
	// Polling may run a minute past the code's expiry to store the result.
	ctx, cancel := context.WithDeadline(s.dev.ctx, deadline.Add(time.Minute))
	f := &deviceFlow{sess: sess, link: linkKey(r.PathValue("token")), browser: browser, view: view, cancel: cancel, done: make(chan struct{})}

	d := &s.dev
	d.mu.Lock()
	d.sweep(time.Now())
	if len(d.flows) >= maxDeviceFlows {
		d.mu.Unlock()
		cancel()
		s.log.Warn("too many device flows running: refused", "limit", maxDeviceFlows)
		s.renderResult(w, http.StatusServiceUnavailable, "Please try again later", "Too many sign-ins are waiting right now.", false)
		return
	}
	if old := d.byLink[f.link]; old != nil {
		old.cancel() // a newer sign-in from the same link replaces it
	}
	d.flows[id], d.byLink[f.link] = f, f
	d.wg.Add(1)
	d.mu.Unlock()

	go s.runDevice(ctx, f, info, da)
	http.Redirect(w, r, r.URL.Path+devicePathPrefix+poll, http.StatusSeeOther)
}

// sweep forgets finished flows whose outcome was kept long enough; d.mu is
// held.
func (d *deviceFlows) sweep(now time.Time) {
	for id, f := range d.flows {
		select {
		case <-f.done:
			if now.After(f.keep) {
				delete(d.flows, id)
			}
		default:
		}
	}
}

// runDevice polls the token endpoint until the flow ends and records the
// connection like the browser callback does.
func (s *Server) runDevice(ctx context.Context, f *deviceFlow, info store.ConnectionInfo, da engine.DeviceAuthorization) {
	defer s.dev.wg.Done()
	defer f.cancel()
	info.CreatedAt = time.Now().UTC()
	var id string
	var failure *flowError
	_, err := s.cfg.Engine.CompleteDeviceAuthorization(ctx, s.connection(info), da)
	if err == nil {
		err = s.recordFlowConnection(ctx, info, f.link, f.sess)
	}
	if err == nil {
		id = info.ID
		s.log.Info("connection created", "connection", info.ID, "connector", info.Connector, "account", info.Account)
	} else {
		if derr := s.cfg.Store.DeleteConnection(context.WithoutCancel(ctx), info.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			s.log.Error("cleaning up a failed device authorization", "connection", info.ID, "error", derr.Error())
		}
		failure = deviceFailure(ctx, err)
		s.log.Warn("device authorization failed", "connection", info.ID, "connector", info.Connector, "error", failure.reason)
	}
	d := &s.dev
	d.mu.Lock()
	f.id, f.failure, f.keep = id, failure, time.Now().Add(deviceKeep)
	if d.byLink[f.link] == f {
		delete(d.byLink, f.link)
	}
	close(f.done)
	d.mu.Unlock()
}

// deviceFailure says why a device flow failed, with the page's status.
func deviceFailure(ctx context.Context, err error) *flowError {
	switch {
	case errors.Is(err, oauth2.ErrAccessDenied):
		return &flowError{reason: "the sign-in was declined", status: http.StatusForbidden}
	case errors.Is(err, oauth2.ErrDeviceCodeExpired):
		return &flowError{reason: "the code expired before it was approved; open the connect link again for a new one", status: http.StatusGone}
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled):
		return &flowError{reason: "the sign-in was stopped (a newer one was started from the same link, or the server stopped); open the connect link again", status: http.StatusServiceUnavailable}
	case ctx.Err() != nil:
		return &flowError{reason: "the sign-in took too long; open the connect link again", status: http.StatusGatewayTimeout}
	}
	return &flowError{reason: err.Error(), status: http.StatusBadGateway}
}

// deviceStatus answers a device flow's status page: the code while the
// person has not approved it yet (the page refreshes itself), then the
// outcome, as the browser callback would.
func (s *Server) deviceStatus(w http.ResponseWriter, r *http.Request) {
	var poll devicePoll
	var sess connectSession
	if s.open(r.PathValue("poll"), purposeDevicePoll, &poll) != nil || poll.Link != linkKey(r.PathValue("token")) ||
		s.open(r.PathValue("token"), purposeSession, &sess) != nil {
		s.renderResult(w, http.StatusNotFound, "This link does not work", "The sign-in page is not valid. Open the connect link again.", false)
		return
	}
	if time.Now().Unix() > poll.Expires {
		s.renderResult(w, http.StatusGone, "This sign-in has ended", "Open the connect link again to start a new one.", false)
		return
	}
	if poll.Instance != s.dev.instance {
		s.log.Warn("a device flow's status was asked of a server that does not run it (not sticky, or restarted)", "connector", sess.Connector)
		s.renderResult(w, http.StatusConflict, "This sign-in is followed by another server",
			"It was started on another server of this service, or this service restarted, and only that server can follow it. If you already approved it, the connection may exist; otherwise open the connect link again.", false)
		return
	}
	d := &s.dev
	d.mu.Lock()
	f := d.flows[poll.ID]
	d.mu.Unlock()
	if f == nil {
		s.renderResult(w, http.StatusGone, "This sign-in has ended", "Open the connect link again to start a new one.", false)
		return
	}
	c, err := r.Cookie(formCookie)
	if err != nil || f.browser == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(f.browser)) != 1 {
		s.renderResult(w, http.StatusForbidden, "This sign-in belongs to another browser", "Open the connect link in the browser where you started it.", false)
		return
	}
	select {
	case <-f.done:
	default:
		cn, _ := s.cfg.Engine.Connector(sess.Connector)
		p := &page{Connector: sess.Connector, Device: &f.view}
		if cn != nil {
			p.Connector, p.Logo = displayName(cn.Spec), newLogo(displayName(cn.Spec), cn.Spec.LogoURI)
		}
		s.render(w, http.StatusOK, p)
		return
	}
	if f.failure != nil {
		s.finish(w, r, f.sess, "", f.failure)
		return
	}
	s.finish(w, r, f.sess, f.id, nil)
}

// recordFlowConnection is the end of an interactive flow whose credentials
// are stored: the connector's test, the connect link's single use, and the
// catalog entry. The caller removes the credentials when it fails.
func (s *Server) recordFlowConnection(ctx context.Context, info store.ConnectionInfo, link string, sess connectSession) error {
	cl, err := s.cfg.Engine.Client(ctx, s.connection(info))
	if err == nil && cl.HasTest() {
		err = cl.Test(ctx)
	}
	if err == nil {
		// The connect link produces one connection: a second flow started
		// from it before this one finished is turned away here.
		if err = s.cfg.Store.Use(ctx, link, time.Unix(sess.Expires, 0).Add(usedSlack)); errors.Is(err, store.ErrUsed) {
			err = errors.New("this connect link was already used to connect an account")
		}
	}
	if err == nil {
		err = s.cfg.Store.PutConnection(ctx, info)
	}
	if err != nil && cl != nil {
		err = errors.New(cl.Redact(err.Error()))
	}
	return err
}

// qrSVG draws text as a QR code in an inline SVG ("" when it does not fit).
// The SVG is built from numbers only, so it is safe to put in the page.
func qrSVG(text string) template.HTML {
	if text == "" || len(text) > maxQRText {
		return ""
	}
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return ""
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="180" height="180" shape-rendering="crispEdges" role="img" aria-label="QR code of the sign-in link" id="device-qr"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}
