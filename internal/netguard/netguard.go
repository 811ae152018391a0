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

// blocked are ranges that are never a public service, beyond what
// netip's predicates cover: this network, shared address space (RFC 6598:
// carrier-grade NAT, and 100.100.100.200, a cloud metadata address),
// IETF protocol assignments, benchmarking, multicast, reserved and
// broadcast, and the IPv6 ranges that embed an IPv4 address (NAT64,
// Teredo, 6to4), through which a private IPv4 address could be reached.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/96", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "2001::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// Public reports whether a is a public unicast address: not loopback,
// private (RFC 1918, RFC 4193), shared (RFC 6598), link-local (where cloud
// metadata services answer: 169.254.169.254, fd00:ec2::254 is
// unique-local), multicast, unspecified, reserved, or an IPv6 address
// embedding an IPv4 one. An IPv4-mapped address is judged as the IPv4
// address; a zone is ignored (a prefix never contains a zoned address).
func Public(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
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
