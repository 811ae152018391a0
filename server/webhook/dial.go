package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/connspec/connspec/internal/netguard"
)

// RefusedError: a webhook's address is one the allow-list keeps out.
type RefusedError struct {
	Host string
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused: %s resolves to %s, a private, loopback, link-local, CGNAT or metadata address (allow it with --webhook-allow-private %s)", e.Host, e.Addr, e.Host)
}

// dialGuard refuses connections to blocked addresses unless allowed, at
// dial time on the resolved address: a name that resolves to a private
// address when delivering (DNS rebinding) is refused like an IP literal.
type dialGuard struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

func newDialGuard(allow []string) (*dialGuard, error) {
	g := &dialGuard{hosts: map[string]bool{}}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
		case strings.Contains(a, "/"):
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("webhook: allowed private range %q is not an IP prefix", a)
			}
			g.prefixes = append(g.prefixes, p.Masked())
		default:
			g.hosts[strings.ToLower(strings.Trim(a, "[]"))] = true
		}
	}
	return g, nil
}

// check is the dialer's Control: address is the IP it is about to connect to.
func (g *dialGuard) check(host string, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused: cannot read the dialled address %q", address)
	}
	// Without its zone: a prefix never contains a zoned address (fe80::1%eth0).
	ip := ap.Addr().Unmap().WithZone("")
	if g.hosts[strings.ToLower(host)] {
		return nil
	}
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	if !netguard.Public(ip) {
		return &RefusedError{Host: host, Addr: ip}
	}
	return nil
}

// transport is an http.Transport that dials through the guard and uses no
// proxy (a proxy would be dialled instead of the webhook's address).
func (g *dialGuard) transport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			d := &net.Dialer{
				Timeout: 10 * time.Second,
				Control: func(_, address string, _ syscall.RawConn) error { return g.check(host, address) },
			}
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
}

// decodeSecret is the key of a whsec_ secret.
func decodeSecret(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
}
