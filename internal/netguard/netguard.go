// Package netguard keeps outbound connections off the network a service
// runs in: a transport that connects only to public addresses, checked on
// the address actually connected to, so that a name resolving to a public
// address when checked and to a private one when dialled (DNS rebinding)
// is refused too.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
)

// ErrNotPublic is wrapped by the errors of a refused connection.
var ErrNotPublic = errors.New("not a public address")

// cgnat is RFC 6598 shared address space (carrier-grade NAT).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Public reports whether a is a public unicast address: not loopback,
// private (RFC 1918, RFC 4193), shared (RFC 6598), link-local (where cloud
// metadata services answer), multicast or unspecified.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a) && !a.IsLoopback() && !a.IsLinkLocalUnicast()
}

// CheckAddress refuses a "host:port" whose host is not a public address.
func CheckAddress(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: %q is not an IP address and port", address)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("netguard: %s is %w (private, loopback and link-local networks are refused)", ap.Addr().Unmap(), ErrNotPublic)
	}
	return nil
}

// control is a net.Dialer Control: it runs after name resolution, before
// the connection is attempted, on each address tried.
func control(_, address string, _ syscall.RawConn) error { return CheckAddress(address) }

// Transport returns a clone of base that connects only to public
// addresses and uses no HTTP proxy (a proxy would resolve and connect for
// it, out of the guard's sight). When base dials with its own DialContext
// the peer of each new connection is checked before anything is sent on
// it; otherwise the dialer refuses before connecting.
func Transport(base *http.Transport) *http.Transport {
	t := base.Clone()
	t.Proxy = nil
	inner := base.DialContext
	if inner == nil {
		d := &net.Dialer{Control: control}
		t.DialContext = d.DialContext
	} else {
		t.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
			c, err := inner(ctx, network, address)
			if err != nil {
				return nil, err
			}
			if err := CheckAddress(c.RemoteAddr().String()); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
	}
	t.DialTLSContext = nil // a custom TLS dial would bypass DialContext
	return t
}
