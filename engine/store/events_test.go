package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventTypes lists the types of events, oldest first.
func eventTypes(t *testing.T, o Outbox) []string {
	t.Helper()
	list, err := o.ListEvents(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(list) {
		out = append(out, e.Type)
	}
	return out
}

// eventsConformance checks the outbox: each committed transition writes its
// event, others none; claims are exclusive leases.
func eventsConformance(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	canary := "CANARY-secret-9f1c"
	t.Run("transitions", func(t *testing.T) {
		st := open(t)
		o := st.(Outbox)
		cat := st.(Catalog)
		want := []string{}
		check := func(step string, more ...string) {
			t.Helper()
			want = append(want, more...)
			if got := eventTypes(t, o); !slices.Equal(got, want) {
				t.Fatalf("after %s: events %q, want %q", step, got, want)
			}
		}
		v, err := st.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": canary, "refresh_token": canary})
		if err != nil {
			t.Fatal(err)
		}
		check("the first credentials (not in the catalog yet)")
		if err := cat.PutConnection(ctx, ConnectionInfo{ID: "c1", Connector: "acme", Option: "oauth", Account: "acct-1", Input: map[string]any{"apiKey": canary}}); err != nil {
			t.Fatal(err)
		}
		check("PutConnection of a new connection", EventCreated)
		if err := cat.PutConnection(ctx, ConnectionInfo{ID: "c1", Connector: "acme", Option: "oauth", Account: "acct-1"}); err != nil {
			t.Fatal(err)
		}
		check("PutConnection again")
		if v, err = st.CompareAndSwap(ctx, "c1", v, map[string]any{"access_token": canary + "2"}); err != nil {
			t.Fatal(err)
		}
		check("a renewal")
		set := func(status, lastError string) {
			t.Helper()
			if err := st.SetState(ctx, "c1", State{Status: status, LastError: lastError}); err != nil {
				t.Fatal(err)
			}
		}
		set(StatusConnected, "")
		check("connected")
		set(StatusConnected, "token endpoint: 503")
		check("a passing failure", EventRefreshFailed)
		set(StatusConnected, "token endpoint: 503")
		check("the same failure again")
		set(StatusConnected, "token endpoint: timeout")
		check("another failure of the same run, another text")
		set(StatusConnected, "")
		check("a success")
		set(StatusConnected, "token endpoint: 503")
		check("a failure after a success", EventRefreshFailed)
		set(StatusConnected, "")
		set(StatusNeedsReauth, "invalid_grant")
		check("invalid_grant", EventNeedsReauth)
		set(StatusNeedsReauth, "invalid_grant")
		check("needs_reauth again")
		r := st.(Reauthorizer)
		if _, err := r.Reauthorize(ctx, "c1", v-1, map[string]any{"access_token": "x"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("Reauthorize from an old version: %v, want ErrConflict", err)
		}
		check("a refused Reauthorize")
		if _, err := r.Reauthorize(ctx, "c1", v, map[string]any{"access_token": canary + "3"}); err != nil {
			t.Fatal(err)
		}
		check("Reauthorize", EventReauthorized)
		rec, err := st.Get(ctx, "c1")
		if err != nil || rec.State.Status != StatusConnected || rec.State.LastError != "" {
			t.Fatalf("state after Reauthorize: %+v %v", rec.State, err)
		}
		if err := cat.DeleteConnection(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		check("DeleteConnection", EventDeleted)
		// A failed connect: credentials stored, never catalogued, removed.
		if _, err := r.Reauthorize(ctx, "c2", 0, map[string]any{"access_token": "x"}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetState(ctx, "c2", State{Status: StatusNeedsReauth, LastError: "invalid_grant"}); err != nil {
			t.Fatal(err)
		}
		if err := cat.DeleteConnection(ctx, "c2"); err != nil {
			t.Fatal(err)
		}
		check("a connection that never reached the catalog")

		list, _ := o.ListEvents(ctx, 100)
		ids := map[string]bool{}
		for _, e := range list {
			if ids[e.ID] || !strings.HasPrefix(e.ID, "evt_") {
				t.Fatalf("event id %q repeated or malformed", e.ID)
			}
			ids[e.ID] = true
			if s := fmt.Sprintf("%+v", e); strings.Contains(s, canary) {
				t.Fatalf("an event holds a secret: %s", s)
			}
			if e.Delivery != DeliveryPending || e.Data.ConnectionID != "c1" || e.Data.Connector != "acme" || e.Data.Option != "oauth" || e.Data.Account != "acct-1" {
				t.Fatalf("event %+v", e)
			}
			if e.Time.IsZero() || time.Since(e.Time) > time.Minute {
				t.Fatalf("event time %v", e.Time)
			}
		}
		if list[2].Type != EventNeedsReauth || list[2].Data.Status != StatusNeedsReauth || list[2].Data.Error != "invalid_grant" {
			t.Fatalf("needs_reauth event: %+v", list[2])
		}
		got, err := o.GetEvent(ctx, list[0].ID)
		if err != nil || got != list[0] {
			t.Fatalf("GetEvent: %+v %v, want %+v", got, err, list[0])
		}
		if _, err := o.GetEvent(ctx, "evt_nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetEvent of an unknown id: %v", err)
		}
	})
	t.Run("lease-extension", func(t *testing.T) {
		st := open(t)
		o := st.(Outbox)
		if err := st.(Catalog).PutConnection(ctx, ConnectionInfo{ID: "c0", Connector: "acme"}); err != nil {
			t.Fatal(err)
		}
		now, lease := time.Now(), time.Minute
		a, err := o.ClaimEvents(ctx, "a", now, lease, 1)
		if err != nil || len(a) != 1 {
			t.Fatalf("claim: %d %v", len(a), err)
		}
		id := a[0].ID
		if err := o.ExtendEventLease(ctx, id, "b", now, lease); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("extending another owner's lease: %v", err)
		}
		if err := o.ExtendEventLease(ctx, "evt_nope", "a", now, lease); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("extending an unknown (pruned) event: %v", err)
		}
		if err := o.FinishEvent(ctx, "evt_nope", "a", DeliveryDelivered, now); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("finishing an unknown (pruned) event: %v", err)
		}
		if err := o.ExtendEventLease(ctx, id, "a", now.Add(lease/2), lease); err != nil {
			t.Fatal(err)
		}
		if b, err := o.ClaimEvents(ctx, "b", now.Add(lease+time.Second), lease, 1); err != nil || len(b) != 0 {
			t.Fatalf("an extended lease was claimed at its first term's end: %d %v", len(b), err)
		}
		if b, err := o.ClaimEvents(ctx, "b", now.Add(2*lease), lease, 1); err != nil || len(b) != 1 {
			t.Fatalf("not claimed once the extended lease ended: %d %v", len(b), err)
		}
		if err := o.ExtendEventLease(ctx, id, "a", now.Add(2*lease), lease); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("the old owner extended a lease taken over: %v", err)
		}
		if err := o.FinishEvent(ctx, id, "b", DeliveryDelivered, now); err != nil {
			t.Fatal(err)
		}
		if err := o.ExtendEventLease(ctx, id, "b", now, lease); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("extending a finished event: %v", err)
		}
	})
	t.Run("claims", func(t *testing.T) {
		st := open(t)
		o := st.(Outbox)
		for i := range 5 {
			id := fmt.Sprintf("c%d", i)
			if err := st.(Catalog).PutConnection(ctx, ConnectionInfo{ID: id, Connector: "acme"}); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		lease := time.Minute
		a, err := o.ClaimEvents(ctx, "a", now, lease, 3)
		if err != nil || len(a) != 3 {
			t.Fatalf("claim: %d %v", len(a), err)
		}
		if a[0].Data.ConnectionID != "c0" || a[2].Data.ConnectionID != "c2" {
			t.Fatalf("claimed out of order: %+v", a)
		}
		b, err := o.ClaimEvents(ctx, "b", now, lease, 10)
		if err != nil || len(b) != 2 || b[0].Data.ConnectionID != "c3" {
			t.Fatalf("second claim: %+v %v", b, err)
		}
		if err := o.FinishEvent(ctx, a[0].ID, "b", DeliveryDelivered, now); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("finishing another owner's event: %v", err)
		}
		if err := o.RecordAttempt(ctx, a[0].ID, Attempt{URL: "https://hooks.example/x", At: now, StatusCode: 500, Error: "HTTP 500"}); err != nil {
			t.Fatal(err)
		}
		if err := o.FinishEvent(ctx, a[0].ID, "a", DeliveryPending, now.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := o.FinishEvent(ctx, a[1].ID, "a", DeliveryDelivered, now); err != nil {
			t.Fatal(err)
		}
		if err := o.FinishEvent(ctx, a[1].ID, "a", DeliveryDelivered, now); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("finishing twice: %v", err)
		}
		// a dies holding a[2]: after its lease, b gets it (and the retry due by then).
		later := now.Add(2 * lease)
		c, err := o.ClaimEvents(ctx, "b", later, lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range c {
			got = append(got, e.ID)
		}
		if want := []string{a[0].ID, a[2].ID, b[0].ID, b[1].ID}; !slices.Equal(got, want) {
			t.Fatalf("claimed after the leases ended: %q, want %q", got, want)
		}
		if err := o.FinishEvent(ctx, a[2].ID, "a", DeliveryDelivered, now); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("a stale owner finished an event: %v", err)
		}
		e, _ := o.GetEvent(ctx, a[0].ID)
		if e.Attempts != 1 || e.Delivery != DeliveryPending {
			t.Fatalf("event after one round: %+v", e)
		}
		att, err := o.Attempts(ctx, a[0].ID)
		if err != nil || len(att) != 1 || att[0].StatusCode != 500 || att[0].URL != "https://hooks.example/x" || att[0].Error != "HTTP 500" {
			t.Fatalf("attempts: %+v %v", att, err)
		}
		if _, err := o.Attempts(ctx, "evt_nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("attempts of an unknown event: %v", err)
		}
		// Sent again on request, though delivered.
		if err := o.RedeliverEvent(ctx, a[1].ID); err != nil {
			t.Fatal(err)
		}
		if e, _ := o.GetEvent(ctx, a[1].ID); e.Delivery != DeliveryPending || e.Attempts != 0 || e.RedeliveredAt.IsZero() || time.Since(e.RedeliveredAt) > time.Minute {
			t.Fatalf("after RedeliverEvent: %+v", e)
		}
		again, err := o.ClaimEvents(ctx, "c", time.Now().Add(time.Second), lease, 10)
		if err != nil || len(again) != 1 || again[0].ID != a[1].ID || again[0].RedeliveredAt.IsZero() {
			t.Fatalf("claimed after RedeliverEvent: %+v %v", again, err)
		}
		if err := o.RedeliverEvent(ctx, "evt_nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RedeliverEvent of an unknown event: %v", err)
		}
		n, err := o.PruneEvents(ctx, time.Now().Add(time.Hour))
		if err != nil || n != 5 {
			t.Fatalf("prune: %d %v", n, err)
		}
		if got := eventTypes(t, o); len(got) != 0 {
			t.Fatalf("after prune: %q", got)
		}
	})
	t.Run("concurrent-claims", func(t *testing.T) {
		st := open(t)
		o := st.(Outbox)
		for i := range 40 {
			if err := st.(Catalog).PutConnection(ctx, ConnectionInfo{ID: fmt.Sprintf("c%d", i), Connector: "acme"}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for {
					got, err := o.ClaimEvents(ctx, fmt.Sprint("w", w), time.Now(), time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, e := range got {
						mu.Lock()
						seen[e.ID]++
						mu.Unlock()
						if err := o.FinishEvent(ctx, e.ID, fmt.Sprint("w", w), DeliveryDelivered, time.Now()); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		if len(seen) != 40 {
			t.Fatalf("%d events claimed, want 40", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("event %s claimed %d times", id, n)
			}
		}
	})
}
