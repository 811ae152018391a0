package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/connspec/connspec/internal/netguard"
)

// rebindingTransport sends every connection to srv, whatever the name:
// what a DNS answer that changed since the early check does.
func rebindingTransport(srv *httptest.Server) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test server's certificate names no such host
	}
}

// TestPrivateNetworksDNSRebinding: the early check sees a public address,
// the connection lands on loopback. The discovery request and, for a stored
// connection, the API request are refused at the connection, and the
// server never sees a request.
func TestPrivateNetworksDNSRebinding(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	e := newEngine(t, nil, mcpConnector(""), WithoutPrivateNetworks(), WithTransport(rebindingTransport(srv)))
	e.mcp.lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	conn := mcpConn("https://mcp.rebinding.example/mcp")
	if _, err := e.AuthorizationURL(context.Background(), conn, redirectURI); !errors.Is(err, netguard.ErrNotPublic) {
		t.Fatalf("discovery: err = %v, want a refused connection (netguard.ErrNotPublic)", err)
	}
	conn.Credentials = map[string]any{"access_token": "at-canary", ResourceCredentialsKey: "https://mcp.rebinding.example/mcp"}
	// Opening the client discovers the resource again (refused there); an
	// API request would be refused the same way.
	cl, err := e.Client(context.Background(), conn)
	if err == nil {
		_, err = cl.Get(context.Background(), "")
	}
	if !errors.Is(err, netguard.ErrNotPublic) {
		t.Fatalf("stored connection: err = %v, want a refused connection (netguard.ErrNotPublic)", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the private server got %d requests", n)
	}
	// Without the option the same engine set-up reaches the server: the
	// refusal above is the guard's, not a broken test transport.
	open := newEngine(t, nil, mcpConnector(""), WithTransport(rebindingTransport(srv)))
	open.AuthorizationURL(context.Background(), conn, redirectURI)
	if hits.Load() == 0 {
		t.Fatal("control: the unguarded engine did not reach the server")
	}
}

// A connector without protectedResource is not restricted: a developer's
// own API on a private network keeps working under WithoutPrivateNetworks.
func TestPrivateNetworksOnlyForUserChosenServers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: "{{URL}}"
`, WithoutPrivateNetworks())
	if _, err := mustClient(t, e, Connection{}).Get(context.Background(), "/x"); err != nil {
		t.Fatalf("a connector's own private API was refused: %v", err)
	}
}

// Only an *http.Transport can be kept off private networks; any other is
// refused by name, never used unguarded.
func TestPrivateNetworksNeedsHTTPTransport(t *testing.T) {
	e := newEngine(t, nil, mcpConnector(""), WithoutPrivateNetworks(), WithTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Fatal("the unguardable transport was used")
		return nil, nil
	})))
	_, err := e.AuthorizationURL(context.Background(), mcpConn("https://mcp.example.com/mcp"), redirectURI)
	if err == nil || !strings.Contains(err.Error(), "*http.Transport") {
		t.Fatalf("err = %v, want a refusal naming *http.Transport", err)
	}
}
