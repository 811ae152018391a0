package engine

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/connspec/connspec/engine/mtls"
	"github.com/connspec/connspec/internal/mapvalue"
	"github.com/connspec/connspec/spec"
)

// Mutual TLS is a layer under every auth kind, not a kind: an auth block
// with getClientCertificate sends all of a connection's requests (API,
// token, authorization code exchange, its methods' fetch) over a transport
// that presents the certificate. Without it they go out on the engine's
// transport as they are.

// maxCertTransports bounds the engine's per-certificate transports: one per
// distinct certificate in use, shared by the clients of one connection.
const maxCertTransports = 256

// certRead reads getClientCertificate values; errors start with its name.
var certRead = mapvalue.Reader(spec.MethodGetClientCertificate)

// connWire is what a connection's requests go out on.
type connWire struct {
	rt http.RoundTripper
	// cert is set when rt presents a client certificate.
	cert bool
	// guarded is set when rt connects only to public addresses
	// (layer_netguard.go).
	guarded bool
	// secrets are the private key's text, redacted wherever the
	// connection's own secrets are.
	secrets []string
}

// connectionWire returns the wire of a connection of auth block a: the
// engine's transport, or, when a has getClientCertificate, one presenting
// the certificate it returns. connector names the connector in errors.
func (e *Engine) connectionWire(ctx context.Context, connector string, a *Auth, conn Connection) (connWire, error) {
	guard := e.mcp.refusePrivate && a.userChosenServers()
	if !a.hasMethod(spec.MethodGetClientCertificate) {
		if guard {
			rt, err := e.guardedWire()
			if err != nil {
				return connWire{}, fmt.Errorf("connector %s: %w", connector, err)
			}
			return connWire{rt: rt, guarded: true}, nil
		}
		return connWire{rt: e.sent}, nil
	}
	if guard {
		return connWire{}, fmt.Errorf("connector %s: getClientCertificate with a protectedResource the end user may choose is not supported under WithoutPrivateNetworks", connector)
	}
	raw, m, r, err := e.runConfigMethod(ctx, connector, a, conn, spec.MethodGetClientCertificate)
	if err != nil {
		return connWire{}, err
	}
	certPEM, keyPEM, err := readClientCertificate(raw)
	var secrets []string
	if keyPEM != "" {
		secrets = []string{keyPEM}
	}
	r = r.With(secrets...)
	if err != nil {
		return connWire{}, redactedMethodError(m, err, r)
	}
	cert, err := mtls.Parse(certPEM, keyPEM)
	if err != nil {
		// mtls's errors name the problem (expired, mismatched), never the PEM.
		return connWire{}, redactedMethodError(m, errors.New(strings.TrimPrefix(err.Error(), "mtls: ")), r)
	}
	rt, err := e.certTransport(cert, certPEM, keyPEM)
	if err != nil {
		return connWire{}, fmt.Errorf("connector %s: %w", connector, err)
	}
	return connWire{rt: e.traceWire(rt), cert: true, secrets: secrets}, nil
}

// readClientCertificate reads getClientCertificate's result: exactly the
// keys certificate and privateKey, both PEM text.
func readClientCertificate(raw map[string]any) (certPEM, keyPEM string, err error) {
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(spec.ClientCertificateKeys, k) {
			return "", "", fmt.Errorf("the result has no key %q: connspec would not use it (keys: %s)", k, strings.Join(spec.ClientCertificateKeys, ", "))
		}
	}
	// The key first: an error about the certificate is redacted with it.
	if keyPEM, err = certRead.String("privateKey", raw["privateKey"]); err != nil {
		return "", "", err
	}
	if certPEM, err = certRead.String("certificate", raw["certificate"]); err != nil {
		return "", keyPEM, err
	}
	switch {
	case certPEM == "":
		return "", keyPEM, errors.New("certificate is empty (a PEM certificate is required)")
	case keyPEM == "":
		return "", "", errors.New("privateKey is empty (the certificate's PEM private key is required)")
	}
	return certPEM, keyPEM, nil
}

// certTransport returns the engine's transport presenting cert, shared by
// every client with the same certificate and key. It refuses a transport
// it cannot add a certificate to rather than send without one.
func (e *Engine) certTransport(cert mtls.Certificate, certPEM, keyPEM string) (http.RoundTripper, error) {
	var build func() (http.RoundTripper, *http.Transport)
	switch t := e.transport.(type) {
	case *http.Transport:
		build = func() (http.RoundTripper, *http.Transport) {
			ct := cert.Transport(t)
			return ct, ct
		}
	case *connectToTransport:
		inner, ok := t.next.(*http.Transport)
		if !ok {
			return nil, errCertTransport(t.next)
		}
		build = func() (http.RoundTripper, *http.Transport) {
			ct := cert.Transport(inner)
			return &connectToTransport{rules: t.rules, next: ct}, ct
		}
	default:
		return nil, errCertTransport(e.transport)
	}
	// Keyed by a hash: the cache holds no key text of its own.
	sum := sha256.Sum256([]byte(certPEM + "\x00" + keyPEM))
	return e.certTransports.get(sum, build), nil
}

func errCertTransport(rt http.RoundTripper) error {
	return fmt.Errorf("%s: cannot present a TLS client certificate over the transport given with engine.WithTransport (%T): it must be an *http.Transport, whose TLS settings the certificate is added to", spec.MethodGetClientCertificate, rt)
}

// transportCache is a bounded, least recently used set of transports by
// certificate hash.
type transportCache struct {
	mu    sync.Mutex
	byKey map[[32]byte]*list.Element
	order list.List // of *cachedTransport, most recently used first
}

type cachedTransport struct {
	key  [32]byte
	rt   http.RoundTripper
	idle *http.Transport
}

// get returns the transport for key, built once.
func (c *transportCache) get(key [32]byte, build func() (http.RoundTripper, *http.Transport)) http.RoundTripper {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*cachedTransport).rt
	}
	if c.byKey == nil {
		c.byKey = map[[32]byte]*list.Element{}
	}
	rt, idle := build()
	c.byKey[key] = c.order.PushFront(&cachedTransport{key: key, rt: rt, idle: idle})
	for c.order.Len() > maxCertTransports {
		old := c.order.Remove(c.order.Back()).(*cachedTransport)
		delete(c.byKey, old.key)
		// Clients still holding it keep working; its idle connections
		// (and their goroutines) go now.
		old.idle.CloseIdleConnections()
	}
	return rt
}

// len reports how many transports are cached.
func (c *transportCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// wireKey is the context key of the wire a connection's methods fetch over.
type wireKey struct{}

// withWire returns ctx carrying w: methods run with it (an authorization
// flow's, a client's) fetch over it, and flows send token requests over it.
func withWire(ctx context.Context, w connWire) context.Context {
	if !w.cert && !w.guarded && ctx.Value(wireKey{}) == nil {
		return ctx // wireOf falls back to the engine's transport: no allocation
	}
	return context.WithValue(ctx, wireKey{}, w)
}

// wireOf returns the wire ctx carries, or the engine's transport.
func (e *Engine) wireOf(ctx context.Context) connWire {
	if w, ok := ctx.Value(wireKey{}).(connWire); ok && w.rt != nil {
		return w
	}
	return connWire{rt: e.sent}
}

// checkClientCertificate refuses an OAuth client authenticated by its TLS
// certificate (RFC 8705) on a connection that presents none: the token
// endpoint would only answer with an opaque invalid_client.
func checkClientCertificate(w connWire, clientAuthLocation string) error {
	if w.cert {
		return nil
	}
	return fmt.Errorf("clientAuthLocation %s authenticates the client by its TLS certificate, but this auth block has no %s", clientAuthLocation, spec.MethodGetClientCertificate)
}

// flowContext returns ctx carrying the wire of an authorization flow's
// connection, so that its token requests and its methods' fetch present
// the connection's client certificate.
func (e *Engine) flowContext(ctx context.Context, a *Auth, conn Connection) (context.Context, error) {
	w, err := e.connectionWire(ctx, conn.Connector, a, conn)
	if err != nil {
		return nil, err
	}
	return withWire(ctx, w), nil
}
