package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// postgresURL is CONNSPEC_TEST_POSTGRES_URL (set by .ci/run from
// .ci/postgres.sh); without it the test is skipped.
func postgresURL(t testing.TB) string {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set (.ci/postgres.sh starts a server)")
	}
	return url
}

// openPostgres connects to the test server in a fresh schema, dropped when
// the test ends, or skips.
func openPostgres(t testing.TB) *Postgres {
	url := postgresURL(t)
	schema := fmt.Sprintf("t%d", time.Now().UnixNano())
	ctx := context.Background()
	admin, err := OpenPostgres(ctx, url, mustCipher(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after p.Close (cleanups run last-in first-out)
		defer admin.Close()
		if _, err := admin.pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("dropping test schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	p, err := OpenPostgres(ctx, url+sep+"search_path="+schema, mustCipher(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func mustCipher(t testing.TB) *Cipher {
	c, err := NewCipher(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPostgresConformance(t *testing.T) {
	postgresURL(t)
	Conformance(t, func(t *testing.T) Store { return openPostgres(t) })
}

// No table shows a token or a typed API key in clear, and a sealed value
// cannot be moved to another connection's row (nor between columns).
func TestPostgresEncryptsAtRest(t *testing.T) {
	const canary, inputCanary = "canary-token-at-rest-5d2a", "canary-api-key-at-rest-77b0"
	p := openPostgres(t)
	ctx := context.Background()
	if _, err := p.CompareAndSwap(ctx, "a", 0, map[string]any{"access_token": canary}); err != nil {
		t.Fatal(err)
	}
	if err := p.PutConnection(ctx, ConnectionInfo{ID: "a", Connector: "openai", Input: map[string]any{"api_key": inputCanary}}); err != nil {
		t.Fatal(err)
	}
	p.CompareAndSwap(ctx, "b", 0, map[string]any{"access_token": "other"})
	p.PutConnection(ctx, ConnectionInfo{ID: "b", Connector: "openai", Input: map[string]any{"api_key": "other"}})
	for _, table := range []string{"connections", "connection_info"} {
		rows, err := p.pool.Query(ctx, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var dump string
			if err := rows.Scan(&dump); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(dump, canary) || strings.Contains(dump, inputCanary) {
				t.Errorf("%s holds a secret in clear: %s", table, dump)
			}
		}
		rows.Close()
	}
	for _, move := range []string{
		`UPDATE connection_info SET input = (SELECT input FROM connection_info WHERE id = 'a') WHERE id = 'b'`,
		`UPDATE connection_info SET input = (SELECT credentials FROM connections WHERE id = 'a') WHERE id = 'a'`,
	} {
		if _, err := p.pool.Exec(ctx, move); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b"} {
		if _, err := p.GetConnection(ctx, id); err == nil || strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), inputCanary) {
			t.Errorf("input moved into row %s opened: %v", id, err)
		}
	}
}

func TestPostgresLockSerialisesRenewals(t *testing.T) {
	p := openPostgres(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	inside, maxInside := 0, 0
	for range 8 {
		wg.Go(func() {
			unlock, err := p.Lock(ctx, "conn-1")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if maxInside != 1 {
		t.Errorf("%d holders at once", maxInside)
	}
}

func TestPostgresKeyRotation(t *testing.T) {
	p := openPostgres(t)
	ctx := context.Background()
	p.CompareAndSwap(ctx, "a", 0, map[string]any{"access_token": "t1"})
	if err := p.PutConnection(ctx, ConnectionInfo{ID: "a", Connector: "openai", Input: map[string]any{"api_key": "k1"}}); err != nil {
		t.Fatal(err)
	}
	newKey := []byte("fedcba9876543210fedcba9876543210")
	// The servers restart with the new key first and the old one after it.
	p.cipher, _ = NewCipher(newKey, testKey)
	if n, err := p.Rekey(ctx); err != nil || n != 2 {
		t.Fatalf("Rekey = %d, %v", n, err)
	}
	if n, err := p.Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("second Rekey = %d, %v", n, err)
	}
	// Then the old key can go.
	p.cipher, _ = NewCipher(newKey)
	if r, err := p.Get(ctx, "a"); err != nil || r.Credentials["access_token"] != "t1" {
		t.Fatalf("after rotation: %+v %v", r, err)
	}
	if info, err := p.GetConnection(ctx, "a"); err != nil || info.Input["api_key"] != "k1" {
		t.Fatalf("input after rotation: %+v %v", info, err)
	}
}
