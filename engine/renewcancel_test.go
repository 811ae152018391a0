package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// holdingProvider puts a gate before a renewProvider's token endpoint: a
// token request is received (its refresh token read), then held until the
// test lets it go, and answered then, rotating the refresh token even
// though the caller has gone by then, as a provider does.
type holdingProvider struct {
	*renewProvider
	srv     *httptest.Server
	arrived chan struct{}
	release chan struct{}
}

func newHoldingProvider(t *testing.T) *holdingProvider {
	h := &holdingProvider{renewProvider: newRenewProvider(t, time.Hour), arrived: make(chan struct{}, 8), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if r.Header.Get("Content-Type") == "application/json" {
				// From a refreshCredentials method.
				var body struct {
					RefreshToken string `json:"refresh_token"`
				}
				json.NewDecoder(r.Body).Decode(&body)
				r.PostForm = url.Values{"refresh_token": {body.RefreshToken}}
			}
			r.ParseForm()
			h.arrived <- struct{}{}
			<-h.release
		}
		h.renewProvider.serve(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// A renewal whose caller cancels its context after the token request went
// out (the provider rotates the refresh token and answers after the
// cancellation) still stores the new refresh token: the caller returns at
// once with its context's error, and the next renewal, in this instance or
// in another one sharing the store, succeeds instead of presenting the
// spent refresh token (invalid_grant). Both for an explicit renewal and
// for one at request time.
func TestCancelledRenewalKeepsRotatedRefreshToken(t *testing.T) {
	cancelledRenewalKeepsRotatedRefreshToken(t, renewConnector, true)
}

// methodsRenewConnector renews with the connector's refreshCredentials
// method, against the same rotating token endpoint.
const methodsRenewConnector = `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
  refreshCredentials:
    code: |
      export default async function ({ credentials, apiClient }) {
        const res = await apiClient.post('/token', { refresh_token: credentials.refresh_token })
        return { access_token: res.access_token, refresh_token: res.refresh_token }
      }
`

// The same for a renewal by a connector's refreshCredentials method.
func TestCancelledMethodsRenewalKeepsRotatedRefreshToken(t *testing.T) {
	cancelledRenewalKeepsRotatedRefreshToken(t, methodsRenewConnector, false)
}

func cancelledRenewalKeepsRotatedRefreshToken(t *testing.T, connector string, withRequests bool) {
	for _, tc := range []struct {
		name   string
		stores func(t *testing.T) []store.Store // the second: the next renewal's instance
	}{
		{"memory", func(*testing.T) []store.Store { s := store.NewMemory(); return []store.Store{s, s} }},
		{"sqlite-one-instance", func(t *testing.T) []store.Store { s := sqliteStores(t, 1)[0]; return []store.Store{s, s} }},
		{"sqlite-two-instances", func(t *testing.T) []store.Store { return sqliteStores(t, 2) }},
		{"postgres-two-instances", func(t *testing.T) []store.Store { return postgresStores(t, 2) }},
	} {
		for _, atRequest := range []bool{false, true} {
			if atRequest && !withRequests {
				continue
			}
			name := tc.name + "/renew"
			if atRequest {
				name = tc.name + "/request"
			}
			t.Run(name, func(t *testing.T) {
				stores := tc.stores(t)
				h := newHoldingProvider(t)
				life := time.Hour
				if atRequest {
					life = 0 // expired: the request renews first
				}
				id := seedRenewals(t, h.renewProvider, stores[0], 1, life)[0]
				conn := renewConnection(store.ConnectionInfo{ID: id, Connector: "c"})
				before, err := stores[0].Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				spent := before.Credentials["refresh_token"]

				e1 := newEngine(t, h.srv, connector, WithStore(stores[0]))
				cl := mustClient(t, e1, conn)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					if atRequest {
						_, err := cl.Get(ctx, "/api/me")
						done <- err
					} else {
						done <- cl.Renew(ctx)
					}
				}()
				select {
				case <-h.arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("no token request")
				}
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("cancelled caller got %v, want context.Canceled", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the cancelled caller did not return while the token request was held")
				}
				close(h.release) // the provider answers now, rotating the refresh token

				waitFor(t, 10*time.Second, "the rotated refresh token to be stored", func() bool {
					rec, err := stores[0].Get(context.Background(), id)
					return err == nil && rec.Credentials["refresh_token"] != spent
				})
				e2 := e1
				if stores[1] != stores[0] {
					e2 = newEngine(t, h.srv, connector, WithStore(stores[1]))
				}
				if err := e2.Renew(context.Background(), conn); err != nil {
					t.Fatalf("next renewal: %v", err)
				}
				if n := h.reused.Load(); n != 0 {
					t.Errorf("%d spent refresh tokens presented again", n)
				}
				if got := h.counts()[id]; got != 2 {
					t.Errorf("%d renewals, want 2", got)
				}
				rec, err := stores[1].Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if rec.State.Status != store.StatusConnected {
					t.Errorf("status %q, want connected", rec.State.Status)
				}
			})
		}
	}
}
