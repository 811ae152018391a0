package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:4700::1111": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"100.64.0.1": false, "169.254.169.254": false, "fe80::1": false, "fd00::1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"100.100.100.200": false, "198.18.0.1": false, "255.255.255.255": false, "192.0.0.8": false,
		"fe80::1%eth0": false, "64:ff9b::a00:1": false, "2002:a00:1::1": false, "2001:0:a00:1::1": false, "::a00:1": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// Both dial paths refuse a loopback server, and the server sees nothing.
func TestTransportRefusesPrivatePeers(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()

	plain := Transport(&http.Transport{})
	// A base with its own dialer that sends a public-looking name to the
	// loopback server: what a rebinding DNS answer does.
	rebinding := Transport(&http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}})
	for name, c := range map[string]struct {
		rt  http.RoundTripper
		url string
	}{
		"dialer":    {plain, srv.URL},
		"rebinding": {rebinding, "http://public.example/"},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		_, err := c.rt.RoundTrip(req)
		if !errors.Is(err, ErrNotPublic) {
			t.Errorf("%s: err = %v, want ErrNotPublic", name, err)
		}
	}
	if hits != 0 {
		t.Errorf("the loopback server got %d requests", hits)
	}
	// The unguarded transport reaches it: the test server works.
	if resp, err := http.Get(srv.URL); err != nil || resp.Body.Close() != nil || hits != 1 {
		t.Fatalf("control request: %v, hits %d", err, hits)
	}
}

func TestTransportDropsProxy(t *testing.T) {
	base := &http.Transport{Proxy: http.ProxyFromEnvironment}
	if Transport(base).Proxy != nil {
		t.Fatal("the guarded transport keeps a proxy")
	}
}
