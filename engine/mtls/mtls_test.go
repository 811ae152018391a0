package mtls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, caKey: key, caPool: pool}
}

// client issues a client certificate valid from notBefore to notAfter and
// returns its PEM certificate and PEM PKCS #8 key.
func (p *testPKI) client(t *testing.T, cn string, notBefore, notAfter time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}))
}

// A loopback TLS server that requires a client certificate of the test CA
// sees the one parsed from PEM, and its thumbprint is the RFC 8705 value.
func TestTransportPresentsCertificate(t *testing.T) {
	pki := newPKI(t)
	certPEM, keyPEM := pki.client(t, "conn-1", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	c, err := Parse(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(certPEM))
	sum := sha256.Sum256(block.Bytes)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); c.Thumbprint() != want {
		t.Fatalf("Thumbprint = %s, want %s", c.Thumbprint(), want)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := CheckBinding(r, c.Thumbprint()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.caPool}
	srv.StartTLS()
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport) // trusts the server's certificate

	resp, err := (&http.Client{Transport: c.Transport(base)}).Get(srv.URL)
	if err != nil {
		t.Fatalf("request with client certificate: %v", err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.String() != "conn-1" {
		t.Fatalf("server answered %d %q", resp.StatusCode, body.String())
	}
	if base.TLSClientConfig.GetClientCertificate != nil || len(base.TLSClientConfig.Certificates) != 0 {
		t.Fatal("Transport changed the base transport's TLS config")
	}
	// The base transport alone presents nothing and is refused.
	if resp, err := (&http.Client{Transport: base}).Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("server accepted a request without a client certificate")
	}
	// Another certificate of the same CA is not the bound one.
	otherCert, otherKey := pki.client(t, "conn-2", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	other, _ := Parse(otherCert, otherKey)
	resp, err = (&http.Client{Transport: other.Transport(base)}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a certificate the token is not bound to: %d", resp.StatusCode)
	}
}

func TestParseRefusesUnusableInput(t *testing.T) {
	pki := newPKI(t)
	now := time.Now()
	certPEM, keyPEM := pki.client(t, "ok", now.Add(-time.Minute), now.Add(time.Hour))
	_, otherKey := pki.client(t, "other", now.Add(-time.Minute), now.Add(time.Hour))
	expCert, expKey := pki.client(t, "old", now.Add(-2*time.Hour), now.Add(-time.Hour))
	newCert, newKey := pki.client(t, "future", now.Add(time.Hour), now.Add(2*time.Hour))
	keyBody := strings.Split(keyPEM, "\n")[1]
	cases := []struct{ name, cert, key, want string }{
		{"swapped", keyPEM, certPEM, "switched"},
		{"key of another certificate", certPEM, otherKey, "does not match"},
		{"garbage", "canary-not-pem", keyPEM, "PEM"},
		{"key garbage", certPEM, "-----BEGIN PRIVATE KEY-----\nY2FuYXJ5\n-----END PRIVATE KEY-----\n", "key"},
		{"no cert", "", keyPEM, "no certificate"},
		{"no key", certPEM, "", "no private key"},
		{"expired", expCert, expKey, "expired"},
		{"not yet valid", newCert, newKey, "not valid before"},
		{"oversized", certPEM + strings.Repeat("x", maxPEM), keyPEM, "longer"},
	}
	for _, c := range cases {
		_, err := Parse(c.cert, c.key)
		if !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrCertificate mentioning %q", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), keyBody) || strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "Y2FuYXJ5") {
			t.Errorf("%s: error shows input: %v", c.name, err)
		}
	}
}

// A certificate that expires after it was parsed is refused at the
// handshake with a clear error instead of being sent.
func TestExpiredCertificateRefusedAtHandshake(t *testing.T) {
	pki := newPKI(t)
	certPEM, keyPEM := pki.client(t, "short", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	now := time.Now()
	c, err := parseAt(certPEM, keyPEM, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.caPool}
	srv.StartTLS()
	defer srv.Close()
	now = now.Add(2 * time.Hour)
	_, err = (&http.Client{Transport: c.Transport(srv.Client().Transport.(*http.Transport))}).Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("request with an expired certificate: %v", err)
	}
}

func TestCertificateNeverShowsKey(t *testing.T) {
	pki := newPKI(t)
	certPEM, keyPEM := pki.client(t, "conn", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	c, err := Parse(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	d := c.c.tls.PrivateKey.(*ecdsa.PrivateKey).D.String()
	holder := struct {
		Name string
		cert Certificate
	}{"x", c}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cert", "c", c)
	outs := []string{fmt.Sprintf("%v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", holder), fmt.Sprintf("%#v", holder), fmt.Sprintf("%d", c), logged.String()}
	if b, err := json.Marshal(struct{ C Certificate }{c}); err == nil {
		t.Fatalf("json.Marshal succeeded: %s", b)
	}
	for _, out := range outs {
		if strings.Contains(out, d) || strings.Contains(out, "PRIVATE") {
			t.Errorf("output shows the private key: %s", out)
		}
	}
	if !strings.Contains(c.String(), c.Thumbprint()) {
		t.Errorf("String() = %s", c)
	}
}
