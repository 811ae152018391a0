package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestRenewalQueueMemory(t *testing.T) {
	m := NewMemory()
	renewalQueue(t, m, m)
}

func TestRenewalQueueSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	renewalQueue(t, openSQLite(t, path, mustCipher(t)), openSQLite(t, path, mustCipher(t)))
}

func TestRenewalQueuePostgres(t *testing.T) {
	p := openPostgres(t)
	renewalQueue(t, p, p)
}

type queueStore interface {
	Store
	Catalog
	RenewalQueue
}

// renewalQueue checks ClaimDue and Release on two handles of one store (two
// instances): what is due is claimed once, in due order; what is not due,
// needs a new authorization, or is kept fresh for other connectors is not;
// the state's renewal fields round-trip; a held claim keeps the connection
// off; a lapsed claim frees it.
func renewalQueue(t *testing.T, a, b queueStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	states := map[string]State{
		"z-deadline":  {Status: StatusConnected, RenewBy: now.Add(-time.Minute), RefreshExpiresAt: now.Add(time.Hour)},
		"fresh-c":     {Status: StatusConnected, NextRefresh: now.Add(30 * time.Second)},
		"fresh-other": {Status: StatusConnected, NextRefresh: now.Add(30 * time.Second)},
		"later":       {Status: StatusConnected, NextRefresh: now.Add(time.Hour), RenewBy: now.Add(time.Hour)},
		"reauth":      {Status: StatusNeedsReauth, RenewBy: now.Add(-time.Hour), NextRefresh: now},
	}
	for id, st := range states {
		connector := "c"
		if id == "fresh-other" {
			connector = "other"
		}
		if _, err := a.CompareAndSwap(ctx, id, 0, map[string]any{"refresh_token": "rt"}); err != nil {
			t.Fatal(err)
		}
		if err := a.PutConnection(ctx, ConnectionInfo{ID: id, Connector: connector}); err != nil {
			t.Fatal(err)
		}
		if err := a.SetState(ctx, id, st); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := b.Get(ctx, "z-deadline")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.State.RenewBy.Equal(states["z-deadline"].RenewBy) || !rec.State.RefreshExpiresAt.Equal(states["z-deadline"].RefreshExpiresAt) {
		t.Errorf("state read back %+v, want %+v", rec.State, states["z-deadline"])
	}
	q := DueQuery{Limit: 10, ClaimFor: 300 * time.Millisecond, FreshAhead: time.Minute, FreshConnectors: []string{"c"}}
	got, err := a.ClaimDue(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "z-deadline" || got[1].ID != "fresh-c" {
		t.Fatalf("claimed %v, want z-deadline then fresh-c", got)
	}
	if again, err := b.ClaimDue(ctx, q); err != nil || len(again) != 0 {
		t.Fatalf("the other instance claimed %v (%v) while they were claimed", again, err)
	}
	// Released with a hold: still off; released without: free again.
	if err := a.Release(ctx, got[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx, got[1], 0); err != nil {
		t.Fatal(err)
	}
	again, err := b.ClaimDue(ctx, q)
	if err != nil || len(again) != 1 || again[0].ID != "fresh-c" {
		t.Fatalf("after release the other instance claimed %v (%v), want fresh-c", again, err)
	}
	// An instance that dies holding a claim: it lapses after ClaimFor.
	time.Sleep(q.ClaimFor + 100*time.Millisecond)
	long := q
	long.ClaimFor = time.Hour // this one must not lapse before the test ends
	lapsed, err := a.ClaimDue(ctx, long)
	if err != nil || len(lapsed) != 1 || lapsed[0].ID != "fresh-c" {
		t.Fatalf("after the claim lapsed: %v (%v), want fresh-c", lapsed, err)
	}
	// A stale release (of the lapsed claim) does not free the new one.
	if err := b.Release(ctx, again[0], 0); err != nil {
		t.Fatal(err)
	}
	if stolen, _ := b.ClaimDue(ctx, q); len(stolen) != 0 {
		t.Fatalf("a released lapsed claim freed the new one: %v", stolen)
	}
	// Everything kept fresh: the other connector's too.
	q.FreshAll = true
	all, err := b.ClaimDue(ctx, q)
	if err != nil || len(all) != 1 || all[0].ID != "fresh-other" {
		t.Fatalf("with every connector kept fresh: %v (%v), want fresh-other", all, err)
	}
	if _, err := a.ClaimDue(ctx, DueQuery{}); err == nil {
		t.Error("a query without Limit and ClaimFor was accepted")
	}
}
