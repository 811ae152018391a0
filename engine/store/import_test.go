package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type importStore interface {
	Store
	Catalog
	Outbox
	RenewalQueue
	Importer
}

func TestImportSQLite(t *testing.T) {
	testImport(t, openSQLite(t, filepath.Join(t.TempDir(), "c.db"), mustCipher(t)))
}

func TestImportPostgres(t *testing.T) {
	testImport(t, openPostgres(t))
}

// testImport: imported connections read back as stored through the
// ordinary calls (credentials at version 1, catalog entry, state), are
// claimed when due, write no events; an import naming a stored connection
// fails, names it, and writes none of its connections.
func testImport(t *testing.T, s importStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	conns := []Imported{
		{Info: ConnectionInfo{ID: "imp-1", Connector: "c", Account: "acc", Input: map[string]any{"tenant": "t1"}},
			Credentials: map[string]any{"access_token": "at-1", "refresh_token": "rt-1"},
			State:       State{Status: StatusConnected, NextRefresh: now.Add(time.Hour)}},
		{Info: ConnectionInfo{ID: "imp-2", Connector: "c"},
			Credentials: map[string]any{"access_token": "at-2"},
			State:       State{Status: StatusConnected, NextRefresh: now.Add(time.Hour), RenewBy: now.Add(-time.Minute), RefreshExpiresAt: now.Add(24 * time.Hour)}},
	}
	if err := s.Import(ctx, conns); err != nil {
		t.Fatal(err)
	}
	for _, in := range conns {
		rec, err := s.Get(ctx, in.Info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Version != 1 || rec.Credentials["access_token"] != in.Credentials["access_token"] {
			t.Errorf("%s: version %d, credentials %v", in.Info.ID, rec.Version, rec.Credentials)
		}
		if !rec.State.NextRefresh.Equal(in.State.NextRefresh) || !rec.State.RenewBy.Equal(in.State.RenewBy) || rec.State.Status != StatusConnected {
			t.Errorf("%s: state %+v, want %+v", in.Info.ID, rec.State, in.State)
		}
		info, err := s.GetConnection(ctx, in.Info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if info.Connector != "c" || info.Account != in.Info.Account || fmt.Sprint(info.Input) != fmt.Sprint(in.Info.Input) {
			t.Errorf("%s: catalog entry %+v", in.Info.ID, info)
		}
	}
	// The credentials can be replaced from version 1.
	if _, err := s.CompareAndSwap(ctx, "imp-1", 1, map[string]any{"access_token": "at-1b"}); err != nil {
		t.Errorf("CompareAndSwap from the imported version: %v", err)
	}
	claims, err := s.ClaimDue(ctx, DueQuery{Limit: 10, ClaimFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || claims[0].ID != "imp-2" {
		t.Errorf("claimed %+v, want imp-2 (its refresh token must be renewed by now)", claims)
	}
	if events, err := s.ListEvents(ctx, 10); err != nil || len(events) != 0 {
		t.Errorf("import wrote events %+v (%v)", events, err)
	}

	again := []Imported{
		{Info: ConnectionInfo{ID: "imp-3", Connector: "c"}, Credentials: map[string]any{"access_token": "at-3"}},
		{Info: ConnectionInfo{ID: "imp-2", Connector: "c"}, Credentials: map[string]any{"access_token": "overwritten"}},
	}
	err = s.Import(ctx, again)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "imp-2") {
		t.Errorf("importing a stored connection: %v, want a conflict naming imp-2", err)
	}
	if rec, _ := s.Get(ctx, "imp-2"); rec.Credentials["access_token"] != "at-2" {
		t.Errorf("the import overwrote imp-2: %v", rec.Credentials)
	}
	if _, err := s.Get(ctx, "imp-3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed import left imp-3 behind: %v", err)
	}
	if _, err := s.GetConnection(ctx, "imp-3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed import left imp-3 in the catalog: %v", err)
	}
	if err := s.Import(ctx, []Imported{{Info: ConnectionInfo{ID: "imp-4", Connector: "c"}}}); err == nil || !strings.Contains(err.Error(), "imp-4") {
		t.Errorf("importing a connection without credentials: %v, want an error naming it", err)
	}
}

// seedIndexed imports n connections of which the first due are due for
// renewal (half by their refresh token's deadline, half kept fresh), the
// rest due in a day.
func seedIndexed(t testing.TB, s Importer, n, due int) {
	now := time.Now().UTC()
	conns := make([]Imported, n)
	for i := range conns {
		st := State{Status: StatusConnected, NextRefresh: now.Add(24 * time.Hour)}
		switch {
		case i < due/2:
			st.RenewBy = now.Add(-time.Minute)
		case i < due:
			st.NextRefresh = now.Add(-time.Minute)
		}
		conns[i] = Imported{Info: ConnectionInfo{ID: fmt.Sprintf("ix-%06d", i), Connector: "c"},
			Credentials: map[string]any{"access_token": "a"}, State: st}
	}
	if err := s.Import(context.Background(), conns); err != nil {
		t.Fatal(err)
	}
}

// The claim finds due connections through the renewal migration's partial
// indexes, not by reading every connection: EXPLAIN QUERY PLAN of the claim
// statement names both.
func TestClaimDueUsesTheRenewalIndexesSQLite(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "c.db"), mustCipher(t))
	seedIndexed(t, s, 2000, 20)
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+sqliteClaimDue,
		renewClaimPrefix, "owner", now+60000, StatusNeedsReauth, now, true, now+60000, true, ",,", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	checkPlan(t, plan.String())
}

func TestClaimDueUsesTheRenewalIndexesPostgres(t *testing.T) {
	p := openPostgres(t)
	seedIndexed(t, p, 2000, 20)
	ctx := context.Background()
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// With statistics of 2,000 rows a sequential scan may be as cheap;
	// switched off, the planner reads the indexes if the query lets it
	// (a predicate no partial index matches would still scan the table).
	for _, q := range []string{`ANALYZE connections`, `SET LOCAL enable_seqscan = off`} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, `EXPLAIN `+postgresClaimDue, "owner", int64(60000), StatusNeedsReauth, true, int64(60000), true, []string{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan.String())
}

func checkPlan(t *testing.T, plan string) {
	t.Helper()
	for _, index := range []string{"connections_renew_by", "connections_next_refresh"} {
		if !strings.Contains(plan, index) {
			t.Errorf("the claim's plan does not use %s:\n%s", index, plan)
		}
	}
	t.Logf("plan:\n%s", plan)
}

// BenchmarkClaimDue measures one claim of up to 1,000 due connections and
// their release, among CONNSPEC_CLAIM_BENCH_N stored connections (default
// 10,000) of which 1% are due, and logs the PostgreSQL plan with the rows
// and buffers it read (EXPLAIN ANALYZE, in a transaction rolled back).
func BenchmarkClaimDue(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("CONNSPEC_CLAIM_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
			var s importStore
			if kind == "sqlite" {
				s = openSQLite(b, filepath.Join(b.TempDir(), "c.db"), mustCipher(b))
			} else {
				s = openPostgres(b)
			}
			seedIndexed(b, s, n, n/100)
			ctx := context.Background()
			if p, ok := s.(*Postgres); ok {
				p.pool.Exec(ctx, `ANALYZE connections, connection_info`)
				tx, err := p.pool.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+postgresClaimDue, "owner", int64(60000), StatusNeedsReauth, true, int64(60000), true, []string{}, 1000)
				if err != nil {
					b.Fatal(err)
				}
				var plan strings.Builder
				for rows.Next() {
					var line string
					rows.Scan(&line)
					plan.WriteString(line + "\n")
				}
				tx.Rollback(ctx)
				b.Logf("EXPLAIN ANALYZE of the claim, %d connections, %d due:\n%s", n, n/100, plan.String())
			}
			q := DueQuery{Limit: 1000, ClaimFor: time.Minute, FreshAhead: time.Minute, FreshAll: true}
			b.ResetTimer()
			for range b.N {
				claims, err := s.ClaimDue(ctx, q)
				if err != nil || len(claims) != n/100 {
					b.Fatalf("claimed %d, want %d: %v", len(claims), n/100, err)
				}
				b.StopTimer()
				for _, c := range claims {
					if err := s.Release(ctx, c, 0); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
		})
	}
}
