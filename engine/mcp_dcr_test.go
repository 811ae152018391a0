package engine

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/mcptest"
)

// mcpConnectorNoClient is mcpConnector with no clientId: nothing is
// registered in advance.
func mcpConnectorNoClient() string {
	return strings.Replace(mcpConnector(""), "      clientId: "+mcptest.ClientID+"\n", "", 1)
}

// TestMCPNothingPreRegistered: MCP authorization 2025-11-25 with only the
// server URL: no clientId, no client ID metadata document; the AS offers
// dynamic client registration (RFC 7591). The engine registers (once),
// runs authorization code + PKCE with resource (RFC 8707) as the
// registered client, the token opens tools/list, and a refresh names the
// same resource and authenticates as the registered client.
func TestMCPNothingPreRegistered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods []string
		basic   bool
	}{
		{"confidential", []string{"client_secret_basic", "none"}, true},
		{"public", []string{"none"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := mcptest.NewAS(t)
			as.Registration = true
			as.RegistrationAuthMethods = tc.methods
			srv := mcptest.NewServer(t, as, mcptest.ServerOptions{Scopes: []string{"mcp:tools"}})
			e := newEngine(t, nil, mcpConnectorNoClient())
			conn := mcpConn(srv.URL)
			creds, err := mcpAuthorize(t, e, conn)
			if err != nil {
				t.Fatal(err)
			}
			if len(as.Registered) != 1 {
				t.Fatalf("%d registrations, want 1", len(as.Registered))
			}
			clientID := as.AuthorizeRequests[0].Get("client_id")
			if !strings.HasPrefix(clientID, "dcr-client-") {
				t.Fatalf("authorization request client_id %q, want the registered client", clientID)
			}
			if got := as.AuthorizeRequests[0].Get("resource"); got != srv.URL {
				t.Errorf("authorization request resource %q", got)
			}
			ref, _ := creds[RegistrationCredentialsKey].(map[string]any)
			if ref["client_id"] != clientID || creds[ResourceCredentialsKey] != srv.URL {
				t.Errorf("credentials %v", creds)
			}
			wantAuth := ""
			if tc.basic {
				wantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+as.Secret(clientID)))
			}
			if as.TokenAuth[0] != wantAuth {
				t.Errorf("code exchange Authorization %q, want %q", as.TokenAuth[0], wantAuth)
			}
			conn.Credentials = creds
			if got := toolsList(t, e, conn); got["result"] == nil {
				t.Errorf("tools/list answered %v", got)
			}

			// The access token expired: the refresh keeps the resource and
			// the registered client.
			creds["expires_at"] = formatExpiresAt(time.Now().Add(-time.Minute))
			conn.Credentials = creds
			cl := mustClient(t, e, conn)
			if _, err := cl.Post(context.Background(), "", map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}); err != nil {
				t.Fatal(err)
			}
			last := len(as.TokenRequests) - 1
			if f := as.TokenRequests[last]; f.Get("grant_type") != "refresh_token" || f.Get("resource") != srv.URL {
				t.Errorf("last token request %v, want a refresh naming %s", f, srv.URL)
			}
			if as.TokenAuth[last] != wantAuth {
				t.Errorf("refresh Authorization %q, want %q", as.TokenAuth[last], wantAuth)
			}
			if !tc.basic && as.TokenRequests[last].Get("client_id") != clientID {
				t.Errorf("public refresh client_id %q", as.TokenRequests[last].Get("client_id"))
			}
			got := cl.Credentials()
			if ref, _ := got[RegistrationCredentialsKey].(map[string]any); ref["client_id"] != clientID || got[ResourceCredentialsKey] != srv.URL {
				t.Errorf("refreshed credentials lost the registration or the resource: %v", got)
			}
			// A second connection reuses the registration.
			if _, err := mcpAuthorize(t, e, conn); err != nil {
				t.Fatal(err)
			}
			if len(as.Registered) != 1 {
				t.Errorf("%d registrations after a second connection, want 1", len(as.Registered))
			}
		})
	}
}

// TestMCPClientChoiceOrder: a configured clientId comes first, then the
// engine's client ID metadata document when the AS supports them, then
// dynamic registration (MCP authorization 2025-11-25, "Client
// Registration Approaches").
func TestMCPClientChoiceOrder(t *testing.T) {
	var docURL string
	docSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, _ := ClientIDMetadataDocument(docURL, ClientMetadata{ClientName: "connspec test", RedirectURIs: []string{redirectURI}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	defer docSrv.Close()
	docURL = docSrv.URL + "/oauth/client.json"
	for _, tc := range []struct {
		name, src  string
		doc        bool
		wantClient string
	}{
		{"configured clientId over both", mcpConnector(""), true, mcptest.ClientID},
		{"metadata document over registration", mcpConnectorNoClient(), true, docURL},
		{"registration last", mcpConnectorNoClient(), false, "dcr-client-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := mcptest.NewAS(t)
			as.Registration, as.CIMD = true, true
			srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
			var opts []Option
			if tc.doc {
				opts = append(opts, WithClientIDMetadataDocument(docURL))
			}
			e := newEngine(t, nil, tc.src, opts...)
			conn := mcpConn(srv.URL)
			creds, err := mcpAuthorize(t, e, conn)
			if err != nil {
				t.Fatal(err)
			}
			if got := as.AuthorizeRequests[0].Get("client_id"); !strings.HasPrefix(got, tc.wantClient) {
				t.Errorf("client_id %q, want %q", got, tc.wantClient)
			}
			if n, want := len(as.Registered), map[bool]int{true: 1, false: 0}[tc.wantClient == "dcr-client-"]; n != want {
				t.Errorf("%d registrations, want %d", n, want)
			}
			conn.Credentials = creds
			toolsList(t, e, conn)
		})
	}
}

// TestRegistrationStoreOutlivesEngine: WithRegistrationStore keeps the
// registration apart from the engine's store, so a second engine (a later
// CLI run) refreshes tokens issued to the registered client; without it,
// the refresh is refused naming the missing registration.
func TestRegistrationStoreOutlivesEngine(t *testing.T) {
	as := mcptest.NewAS(t)
	as.Registration = true
	srv := mcptest.NewServer(t, as, mcptest.ServerOptions{})
	regs := store.NewMemory()
	e1 := newEngine(t, nil, mcpConnectorNoClient(), WithRegistrationStore(regs))
	conn := mcpConn(srv.URL)
	creds, err := mcpAuthorize(t, e1, conn)
	if err != nil {
		t.Fatal(err)
	}
	creds["expires_at"] = formatExpiresAt(time.Now().Add(-time.Minute))
	conn.Credentials = creds
	tools := map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

	e2 := newEngine(t, nil, mcpConnectorNoClient(), WithRegistrationStore(regs))
	if _, err := mustClient(t, e2, conn).Post(context.Background(), "", tools); err != nil {
		t.Fatalf("a later engine on the registration store: %v", err)
	}
	if last := as.TokenRequests[len(as.TokenRequests)-1]; last.Get("grant_type") != "refresh_token" {
		t.Errorf("last token request %v, want a refresh", last)
	}

	e3 := newEngine(t, nil, mcpConnectorNoClient())
	_, err = mustClient(t, e3, conn).Post(context.Background(), "", tools)
	if err == nil || !strings.Contains(err.Error(), "registration") {
		t.Errorf("an engine without the registration: want an error naming the registration, got %v", err)
	}
}
