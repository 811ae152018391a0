package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

// dbCanary stands for what a database driver says when it cannot connect:
// the database's user and address, which no caller of the proxy may see.
const dbCanary = "failed to connect to user=canary-db-user host=10.9.9.9 database=connspec"

// outageStore is a store whose catalog reads fail like a database that went
// away, while the rest works.
type outageStore struct {
	server.Store
	down atomic.Bool
}

func (s *outageStore) GetConnection(ctx context.Context, id string) (store.ConnectionInfo, error) {
	if s.down.Load() {
		return store.ConnectionInfo{}, errors.New(dbCanary)
	}
	return s.Store.GetConnection(ctx, id)
}

// During a store outage the proxy answers 503 store_unavailable, its own
// failure and not the API's, without the driver's text (logged instead).
// It used to answer 502 upstream_error with the driver's message.
func TestProxyStoreOutageIs503WithoutDriverText(t *testing.T) {
	api := newAPIServer(t, canaryAPIKey)
	st := &outageStore{Store: store.NewMemory()}
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}, store: st, recheckAfter: time.Nanosecond})
	id := e.createKeyed(canaryAPIKey, "acc-1")
	st.down.Store(true)
	resp := e.proxy("GET", id, "me", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"store_unavailable"`) {
		t.Fatalf("proxy during a store outage: %d %s, want 503 store_unavailable", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "canary-db-user") || strings.Contains(string(body), "10.9.9.9") {
		t.Fatalf("the answer shows the database's user or address: %s", body)
	}
	if !strings.Contains(e.logs.String(), "canary-db-user") {
		t.Error("the driver's text is not in the log, where the operator needs it")
	}
	st.down.Store(false)
	resp = e.proxy("GET", id, "me", nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the outage: %d, want 200", resp.StatusCode)
	}
}
