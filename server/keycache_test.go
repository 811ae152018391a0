package server_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

// countingKeys counts the API key reads of a store.
type countingKeys struct {
	server.Store
	reads atomic.Int64
}

func (c *countingKeys) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	c.reads.Add(1)
	return c.Store.GetAPIKey(ctx, id)
}

// TestStoredKeyIsReadOncePerRecheck: a stored key, once checked, is not
// read from the store again for RecheckAfter (one read per request was the
// largest cost of a proxied request on SQLite), then is read again; a
// wrong key sharing a good key's id is refused although that id is cached;
// revoked through this server, the key is refused at once.
func TestStoredKeyIsReadOncePerRecheck(t *testing.T) {
	const recheck = time.Second
	c := testCipher(t)
	sqlite, err := store.OpenSQLite(t.TempDir()+"/keys.db", c)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlite.Close()
	st := &countingKeys{Store: sqlite}
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}, store: st, cipher: c, recheckAfter: recheck})
	conn := e.createKeyed(canaryAPIKey, "")
	key, id := e.makeKey("cached", []string{server.ScopeProxy}, "", "")
	before := st.reads.Load()
	began := time.Now()
	for range 20 {
		if status, body := e.request("GET", "/v1/proxy/"+conn+"/me", nil, key); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	// One read, and one more for each RecheckAfter the requests took.
	if n, most := st.reads.Load()-before, 1+int64(time.Since(began)/recheck); n > most {
		t.Errorf("20 requests in %v read the key %d times, want at most %d", time.Since(began), n, most)
	}
	forged := key[:len(key)-1] + map[bool]string{true: "b", false: "a"}[key[len(key)-1] == 'a']
	if status, _ := e.request("GET", "/v1/proxy/"+conn+"/me", nil, forged); status != http.StatusUnauthorized {
		t.Errorf("a wrong key with a cached key's id: %d, want 401", status)
	}
	time.Sleep(recheck)
	before = st.reads.Load()
	if status, _ := e.request("GET", "/v1/proxy/"+conn+"/me", nil, key); status != 200 || st.reads.Load() == before {
		t.Errorf("after RecheckAfter: %d, %d reads, want 200 and the key read again", status, st.reads.Load()-before)
	}
	if status, _ := e.api("DELETE", "/v1/api-keys/"+id, nil); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := e.request("GET", "/v1/proxy/"+conn+"/me", nil, key); status != http.StatusUnauthorized {
		t.Errorf("revoked through this server: %d, want 401 at once", status)
	}
}
