package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// atomicity checks that a change and its event commit together: exec runs
// the database's own statements (triggers that make one half fail).
func atomicity(t *testing.T, st Store, exec func(sql string)) {
	ctx := context.Background()
	cat, o := st.(Catalog), st.(Outbox)
	if _, err := st.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": "a"}); err != nil {
		t.Fatal(err)
	}
	// The outbox refuses every write: the changes that mean an event fail
	// whole, those that mean none go through.
	exec("events-fail")
	if err := cat.PutConnection(ctx, ConnectionInfo{ID: "c1", Connector: "acme"}); err == nil {
		t.Fatal("PutConnection committed without its event")
	}
	if _, err := cat.GetConnection(ctx, "c1"); err == nil {
		t.Fatal("the connection was catalogued though its event was not written")
	}
	exec("events-ok")
	if err := cat.PutConnection(ctx, ConnectionInfo{ID: "c1", Connector: "acme"}); err != nil {
		t.Fatal(err)
	}
	exec("events-fail")
	if err := st.SetState(ctx, "c1", State{Status: StatusConnected}); err != nil {
		t.Fatalf("a state change without an event: %v", err)
	}
	if err := st.SetState(ctx, "c1", State{Status: StatusNeedsReauth, LastError: "invalid_grant"}); err == nil {
		t.Fatal("needs_reauth committed without its event")
	}
	if rec, _ := st.Get(ctx, "c1"); rec.State.Status != StatusConnected {
		t.Fatalf("status %q after a failed transaction", rec.State.Status)
	}
	if _, err := st.(Reauthorizer).Reauthorize(ctx, "c1", 1, map[string]any{"access_token": "b"}); err == nil {
		t.Fatal("Reauthorize committed without its event")
	}
	if rec, _ := st.Get(ctx, "c1"); rec.Version != 1 {
		t.Fatalf("version %d after a failed Reauthorize", rec.Version)
	}
	if err := cat.DeleteConnection(ctx, "c1"); err == nil {
		t.Fatal("DeleteConnection committed without its event")
	}
	if _, err := cat.GetConnection(ctx, "c1"); err != nil {
		t.Fatalf("the connection went though its event was not written: %v", err)
	}
	// The change itself fails after the event was written: no event.
	exec("events-ok")
	exec("connections-fail")
	if err := st.SetState(ctx, "c1", State{Status: StatusNeedsReauth, LastError: "invalid_grant"}); err == nil {
		t.Fatal("SetState succeeded though its UPDATE was refused")
	}
	if got := eventTypes(t, o); !slices.Equal(got, []string{EventCreated}) {
		t.Fatalf("events %q: one written for a change that did not commit", got)
	}
}

func TestSQLiteEventsCommitWithTheirChange(t *testing.T) {
	c, _ := NewCipher(newKey(t))
	s := openSQLite(t, filepath.Join(t.TempDir(), "connspec.db"), c)
	atomicity(t, s, func(what string) {
		stmts := map[string][]string{
			"events-fail":      {`CREATE TRIGGER events_fail BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'outbox refused'); END`},
			"events-ok":        {`DROP TRIGGER events_fail`},
			"connections-fail": {`CREATE TRIGGER connections_fail AFTER UPDATE ON connections BEGIN SELECT RAISE(ABORT, 'update refused'); END`},
		}[what]
		for _, q := range stmts {
			if _, err := s.db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestPostgresEventsCommitWithTheirChange(t *testing.T) {
	p := openPostgres(t)
	ctx := context.Background()
	if _, err := p.pool.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`); err != nil {
		t.Fatal(err)
	}
	atomicity(t, p, func(what string) {
		q := map[string]string{
			"events-fail":      `CREATE TRIGGER events_fail BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()`,
			"events-ok":        `DROP TRIGGER events_fail ON events`,
			"connections-fail": `CREATE TRIGGER connections_fail AFTER UPDATE ON connections FOR EACH ROW EXECUTE FUNCTION refuse()`,
		}[what]
		if _, err := p.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	})
}

// Two handles on one SQLite file (two servers) claim each event once.
func TestSQLiteClaimsAcrossHandles(t *testing.T) {
	c, _ := NewCipher(newKey(t))
	path := filepath.Join(t.TempDir(), "connspec.db")
	a, b := openSQLite(t, path, c), openSQLite(t, path, c)
	ctx := context.Background()
	for i := range 30 {
		if err := a.PutConnection(ctx, ConnectionInfo{ID: fmt.Sprint("c", i), Connector: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w, o := range []Outbox{a, b, a, b} {
		wg.Go(func() {
			owner := fmt.Sprint("w", w)
			for {
				got, err := o.ClaimEvents(ctx, owner, time.Now(), time.Minute, 2)
				if err != nil || len(got) == 0 {
					if err != nil {
						t.Error(err)
					}
					return
				}
				for _, e := range got {
					mu.Lock()
					seen[e.ID]++
					mu.Unlock()
					if err := o.FinishEvent(ctx, e.ID, owner, DeliveryDelivered, time.Now()); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != 30 {
		t.Fatalf("%d events claimed, want 30", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s claimed %d times", id, n)
		}
	}
}
