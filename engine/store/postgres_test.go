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

// openPostgres connects to CONNSPEC_TEST_POSTGRES_URL (set by .ci/run from
// .ci/postgres.sh) in a fresh schema, or skips.
func openPostgres(t *testing.T) *Postgres {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set (.ci/postgres.sh starts a server)")
	}
	schema := fmt.Sprintf("t%d", time.Now().UnixNano())
	ctx := context.Background()
	admin, err := OpenPostgres(ctx, url, mustCipher(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	admin.Close()
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

func mustCipher(t *testing.T) *Cipher {
	c, err := NewCipher(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPostgresConformance(t *testing.T) { Conformance(t, openPostgres(t)) }

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
