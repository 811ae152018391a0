package webhook

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connspec/connspec/engine/store"
)

// openPostgresPair opens two stores (two servers) on one fresh schema.
func openPostgresPair(t *testing.T, url string) (*store.Postgres, *store.Postgres) {
	ctx := context.Background()
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	schema := fmt.Sprintf("wh%d", time.Now().UnixNano())
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	var out [2]*store.Postgres
	for i := range out {
		p, err := store.OpenPostgres(ctx, url+sep+"search_path="+schema, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		out[i] = p
	}
	return out[0], out[1]
}
