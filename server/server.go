// Package server is what `connspec serve` runs: an admin API for connectors
// and connections, a connect page where end users connect their accounts
// (forms and OAuth redirects), and an auth proxy that forwards other
// services' requests to the connector's API with the connection's
// credentials applied, so those services never see a token.
//
// Several servers may share one store (PostgreSQL): connect links and OAuth
// callbacks are sealed with the shared secret key instead of being kept in
// one process, and renewals are coordinated through the store.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"go.opentelemetry.io/otel/trace"
)

// Store is what the server keeps connections in: credentials, the
// catalog of connections, the single-use keys of OAuth flows and
// connect links, and the outbox of connection events.
type Store interface {
	store.Store
	store.Catalog
	store.UseOnce
	store.APIKeys
	store.Outbox
}

// Config configures a Server.
type Config struct {
	// Engine hands out clients; it must be made WithStore(Store).
	Engine *engine.Engine
	Store  Store
	// Cipher seals connect links and OAuth flow cookies; servers sharing a
	// store must share its key.
	Cipher *store.Cipher
	// APIKey is the bearer key of the admin API and the proxy, allowed
	// everything (scope admin). It is required unless InsecureNoKey is set.
	// Keys stored in Store (APIKeys, see NewAPIKey) work beside it, each with
	// its scopes; they are read from the store on every request, so a
	// revocation holds on every instance from the next request.
	APIKey string
	// InsecureNoKey leaves the admin API and the proxy open without a key,
	// for local development on a loopback address (see CheckAddr): the
	// server then answers only requests addressed to a loopback host name
	// or the public URL's host (no DNS rebinding) and refuses cross-site
	// browser requests (Origin, Sec-Fetch-Site).
	InsecureNoKey bool
	// StoredKeysOnly serves without APIKey: only the keys stored in Store
	// (made with `connspec keys create` or POST /v1/api-keys) are accepted,
	// for teams that give every caller a key of its own.
	StoredKeysOnly bool
	// PublicURL is where end users reach the server: the base of connect
	// links and of the OAuth redirect URI.
	PublicURL string
	// ConnectorParameters are the developer's parameters per connector key
	// (OAuth clientId and clientSecret, scopes, ...).
	ConnectorParameters map[string]map[string]any
	Logger              *slog.Logger
	// Metrics receives request and refresh figures; nil makes a private set.
	Metrics *Metrics
	// ConnectTo are the development redirects the engine was given
	// (engine.WithConnectTo): the browser is sent to the authorize page
	// where they send its host, so a connector runs unchanged against a
	// local mock.
	ConnectTo []engine.ConnectTo
	// Branding presents the embedding application on the connect page.
	Branding Branding
	// SessionTTL is how long a connect link works (default 30 minutes).
	SessionTTL time.Duration
	// RecheckAfter is how long a cached client is used before its
	// connection is looked up again, so a connection deleted through
	// another server stops working there too (default 2 seconds); and how
	// long a stored API key, once checked, is taken as good before it is
	// read again, so a key revoked through another server is refused here
	// within it.
	RecheckAfter time.Duration
	// TracerProvider, when set, records a span per proxy request (see
	// traceProxy); give the engine the same one (engine.WithTracerProvider)
	// so its renewals, method runs and API requests join the trace and the
	// API receives the W3C traceparent. Nil (the default) traces nothing.
	TracerProvider trace.TracerProvider
}

// Server serves the admin API, the connect page and the proxy.
type Server struct {
	cfg       Config
	log       *slog.Logger
	metrics   *Metrics
	publicURL *url.URL
	mux       *routeMux
	tracer    trace.Tracer // nil: tracing is off
	// scopes is the key scope each route pattern needs ("" : none).
	scopes  map[string]string
	handler http.Handler
	// pagePolicy is the connect page's Content-Security-Policy.
	pagePolicy string

	mu      sync.Mutex
	clients map[string]*cachedClient
	// keys are the stored API keys checked within RecheckAfter.
	keys keyCache

	// dev are the device flows of the connect page (device.go).
	dev deviceFlows
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Store == nil || cfg.Cipher == nil {
		return nil, errors.New("server: Engine, Store and Cipher are required")
	}
	switch {
	case cfg.APIKey == "" && !cfg.InsecureNoKey && !cfg.StoredKeysOnly:
		return nil, errors.New("server: an APIKey is required (or StoredKeysOnly, to accept only the keys stored in Store; InsecureNoKey serves without one, for loopback development only)")
	case cfg.StoredKeysOnly && (cfg.APIKey != "" || cfg.InsecureNoKey):
		return nil, errors.New("server: StoredKeysOnly excludes APIKey and InsecureNoKey")
	}
	pub, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, fmt.Errorf("server: the public URL must be an absolute http(s) URL, not %q", cfg.PublicURL)
	}
	if err := cfg.Branding.check(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.RecheckAfter <= 0 {
		cfg.RecheckAfter = 2 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics, publicURL: pub, clients: map[string]*cachedClient{}, pagePolicy: contentPolicy(cfg.Branding)}
	if cfg.TracerProvider != nil {
		s.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	s.dev.init()
	s.routes()
	s.warnUnconfigured()
	return s, nil
}

// CheckAddr refuses to serve the admin API without an API key on an address
// other machines can reach: without a key, addr's host must be "localhost"
// or a loopback IP address.
func CheckAddr(addr, apiKey string) error {
	if apiKey != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("refusing to serve on %q without an API key: the address must be HOST:PORT", addr)
	}
	if loopbackHost(host) {
		return nil
	}
	return fmt.Errorf("refusing to serve on %s without an API key: set CONNSPEC_API_KEY, or listen on 127.0.0.1", addr)
}

// loopbackHost reports whether host (no port) names this machine only.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// guard runs before routing: proxy paths that could leave the connector's
// baseUri are refused before the mux cleans them into another route, and
// without an API key only loopback Host headers and same-origin browser
// requests get through.
func (s *Server) guard(next http.Handler) http.Handler {
	cop := s.crossOrigin()
	guarded := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/proxy/"); ok {
			if _, path, _ := strings.Cut(rest, "/"); path != "" {
				if _, err := proxiedPath(path); err != nil {
					writeError(w, http.StatusBadRequest, "bad_path", err.Error())
					return
				}
			}
		}
		if !s.cfg.InsecureNoKey {
			next.ServeHTTP(w, r)
			return
		}
		if !s.allowedHost(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "host_refused",
				"this server runs without an API key and only answers requests addressed to localhost, a loopback address or its public URL")
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// crossOrigin refuses browser requests other sites make (a form posted
// from another origin, fetch without CORS): by Sec-Fetch-Site, or else
// Origin compared with Host. The public URL's origin is always trusted.
func (s *Server) crossOrigin() *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	cop.AddTrustedOrigin(s.publicURL.Scheme + "://" + s.publicURL.Host)
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/connect/") {
			s.renderResult(w, http.StatusForbidden, "This form was sent from another site",
				"For your safety it was not accepted. Open the connect link you were given and submit the form there.", false)
			return
		}
		writeError(w, http.StatusForbidden, "cross_origin_refused", "cross-site browser requests are refused (Origin / Sec-Fetch-Site)")
	}))
	return cop
}

// allowedHost reports whether a request's Host header names this server
// safely without an API key: a loopback name or the public URL's host.
func (s *Server) allowedHost(hostport string) bool {
	if strings.EqualFold(hostport, s.publicURL.Host) {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return loopbackHost(host)
}

func (s *Server) routes() {
	m := &routeMux{ServeMux: http.NewServeMux()}
	s.mux = m
	s.scopes = map[string]string{}
	// scope is the key scope a route needs; "" serves it without a key.
	handle := func(pattern string, h http.HandlerFunc, scope string) {
		var next http.Handler = h
		if scope != "" {
			next = s.requireScope(scope, next)
		}
		s.scopes[pattern] = scope
		m.Handle(pattern, s.instrument(pattern, next))
	}
	handle("GET /healthz", s.healthz, "")
	s.scopes["GET /metrics"] = ""
	m.Handle("GET /metrics", s.metrics.Handler())
	handle("GET /v1/openapi.json", s.openAPI, "")

	handle("GET /v1/connectors", s.listConnectors, ScopeConnect)
	handle("GET /v1/connectors/{key}", s.getConnector, ScopeConnect)
	handle("POST /v1/connections", s.createConnection, ScopeAdmin)
	handle("GET /v1/connections", s.listConnections, ScopeAdmin)
	handle("GET /v1/connections/{id}", s.getConnection, ScopeAdmin)
	handle("DELETE /v1/connections/{id}", s.deleteConnection, ScopeAdmin)
	handle("POST /v1/connect-sessions", s.createConnectSession, ScopeConnect)
	handle("GET /v1/events", s.listEvents, ScopeAdmin)
	handle("GET /v1/events/{id}/deliveries", s.eventDeliveries, ScopeAdmin)
	handle("POST /v1/events/{id}/redeliver", s.redeliverEvent, ScopeAdmin)
	handle(proxyRoute, s.traceProxy(s.proxy), ScopeProxy)
	handle("POST /v1/api-keys", s.createAPIKey, ScopeAdmin)
	handle("GET /v1/api-keys", s.listAPIKeys, ScopeAdmin)
	handle("DELETE /v1/api-keys/{keyId}", s.revokeAPIKey, ScopeAdmin)

	handle("GET /connect/{token}", s.connectPage, "")
	// The form is refused from other sites whether or not there is a key.
	s.scopes["POST /connect/{token}"] = ""
	m.Handle("POST /connect/{token}", s.instrument("POST /connect/{token}", s.crossOrigin().Handler(http.HandlerFunc(s.connectSubmit))))
	handle("GET /connect/{token}/device/{poll}", s.deviceStatus, "")
	handle("GET /oauth/callback", s.oauthCallback, "")
	s.handler = s.guard(m)
}

// statusWriter remembers the status a handler answered with. It passes
// Flush through, so the proxy streams.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and logs every request by its route pattern: never the
// raw URL, whose query may carry values the caller considers secret.
func (s *Server) instrument(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		took := time.Since(began)
		s.metrics.observeRequest(pattern, sw.status, took)
		attrs := []any{"method", r.Method, "route", pattern, "status", sw.status, "duration_ms", float64(took.Microseconds()) / 1000}
		if id := r.PathValue("id"); id != "" {
			attrs = append(attrs, "connection", id)
		}
		s.log.Info("request", attrs...)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// A lookup of an id that cannot exist proves the store answers.
	if _, err := s.cfg.Store.GetConnection(ctx, "healthz-probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("health check: store unreachable", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "store": "unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: code, Message: message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
