// Package mtls holds the mutual-TLS building blocks of connspec: a client
// certificate and key parsed from the PEM strings a user or connector
// parameter gives, transports that present it, and the RFC 8705
// certificate thumbprint ("x5t#S256") that certificate-bound access tokens
// carry in their "cnf" claim.
//
// The package knows nothing about the connector YAML format. A
// [Certificate] never shows its private key: String, Format, slog and JSON
// encoding print only the subject, expiry and thumbprint, and no error
// contains PEM input.
package mtls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// ErrCertificate matches, with errors.Is, every error about a client
// certificate or key that cannot be used.
var ErrCertificate = errors.New("mtls: unusable client certificate")

// maxPEM bounds each PEM input (a long chain is a few KiB).
const maxPEM = 256 << 10

// Certificate is a client certificate with its private key. It is
// immutable and safe for concurrent use.
type Certificate struct {
	// Behind a pointer so that printing a struct holding a Certificate by
	// reflection shows an address, never the private key.
	c *certData
}

type certData struct {
	tls  tls.Certificate
	leaf *x509.Certificate
	x5t  string
	now  func() time.Time
}

func certErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCertificate}, args...)...)
}

// Parse reads a PEM certificate (the client's first, then any
// intermediates) and its PEM private key (PKCS #8, PKCS #1 or SEC 1), and
// checks that they belong together and that the certificate is valid now.
func Parse(certPEM, keyPEM string) (Certificate, error) {
	return parseAt(certPEM, keyPEM, time.Now)
}

func parseAt(certPEM, keyPEM string, now func() time.Time) (Certificate, error) {
	switch {
	case certPEM == "":
		return Certificate{}, certErr("no certificate given")
	case keyPEM == "":
		return Certificate{}, certErr("no private key given")
	case len(certPEM) > maxPEM || len(keyPEM) > maxPEM:
		return Certificate{}, certErr("certificate or key longer than %d bytes", maxPEM)
	}
	// tls.X509KeyPair's errors name PEM block types and mismatches, never
	// the input bytes.
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return Certificate{}, certErr("%v", err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return Certificate{}, certErr("certificate does not parse: %v", err)
		}
	}
	c := Certificate{&certData{tls: pair, leaf: leaf, x5t: Thumbprint(leaf), now: now}}
	if err := c.checkValidity(); err != nil {
		return Certificate{}, err
	}
	return c, nil
}

// checkValidity refuses a certificate outside its validity period: a
// server would only answer with an opaque handshake failure.
func (c Certificate) checkValidity() error {
	now := c.c.now()
	switch l := c.c.leaf; {
	case now.After(l.NotAfter):
		return certErr("client certificate %q expired at %s", l.Subject.String(), l.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(l.NotBefore):
		return certErr("client certificate %q is not valid before %s", l.Subject.String(), l.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Thumbprint returns the RFC 8705 section 3.1 "x5t#S256" of a certificate:
// the base64url SHA-256 of its DER encoding.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Leaf returns the client certificate.
func (c Certificate) Leaf() *x509.Certificate {
	if c.c == nil {
		return nil
	}
	return c.c.leaf
}

// Thumbprint returns the client certificate's "x5t#S256", the value a
// certificate-bound access token's "cnf" claim carries.
func (c Certificate) Thumbprint() string {
	if c.c == nil {
		return ""
	}
	return c.c.x5t
}

// TLSConfig returns a copy of base (nil for defaults) that presents the
// certificate whenever a server asks for one. It is presented even when
// the server's list of acceptable CAs does not name its issuer, so that
// the server, not a silent empty answer, decides; it is refused with a
// clear error once it has expired.
func (c Certificate) TLSConfig(base *tls.Config) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if c.c == nil {
			return nil, certErr("the zero Certificate has no certificate (use Parse)")
		}
		if err := c.checkValidity(); err != nil {
			return nil, err
		}
		return &c.c.tls, nil
	}
	return cfg
}

// Transport returns a copy of base (nil for http.DefaultTransport) whose
// TLS connections present the certificate. Connections are not shared
// with base, so no other connection's requests go out with it.
func (c Certificate) Transport(base *http.Transport) *http.Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	t.TLSClientConfig = c.TLSConfig(base.TLSClientConfig)
	return t
}

// String describes the certificate by subject, expiry and thumbprint.
func (c Certificate) String() string {
	if c.c == nil {
		return "mtls.Certificate(none)"
	}
	return fmt.Sprintf("mtls.Certificate(%q, expires %s, x5t#S256=%s)", c.c.leaf.Subject.String(), c.c.leaf.NotAfter.UTC().Format(time.RFC3339), c.c.x5t)
}

// Format prints [Certificate.String] for every verb.
func (c Certificate) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue logs the certificate as [Certificate.String].
func (c Certificate) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON refuses: the private key must not reach an encoder by accident.
func (c Certificate) MarshalJSON() ([]byte, error) {
	return nil, errors.New("mtls: a Certificate is not encoded; store the PEM inputs as secrets")
}

// ErrNotBound is returned by [CheckBinding] when the request did not come
// with the certificate the access token is bound to.
var ErrNotBound = errors.New("mtls: the request's client certificate is not the one the token is bound to")

// CheckBinding checks, on the server side, that a request came over TLS
// with a client certificate whose thumbprint is x5t (RFC 8705 section 3).
func CheckBinding(r *http.Request, x5t string) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no client certificate was presented", ErrNotBound)
	}
	if Thumbprint(r.TLS.PeerCertificates[0]) != x5t {
		return ErrNotBound
	}
	return nil
}
