package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestMemoryConformance is the behaviour every Store must have; durable
// stores run the same checks.
func TestMemoryConformance(t *testing.T) {
	Conformance(t, func(*testing.T) Store { return NewMemory() })
}

// Conformance checks a store implementation: its credentials and its
// Catalog. open returns a fresh, empty store; every subtest gets its own.
func Conformance(t *testing.T, open func(t *testing.T) Store) {
	t.Run("credentials", func(t *testing.T) { credentialsConformance(t, open(t)) })
	t.Run("catalog", func(t *testing.T) { catalogConformance(t, open) })
	t.Run("use-once", func(t *testing.T) { useOnceConformance(t, open(t)) })
	t.Run("api-keys", func(t *testing.T) { apiKeysConformance(t, open(t)) })
	t.Run("events", func(t *testing.T) { eventsConformance(t, open) })
}

// useOnceConformance checks UseOnce: a key is used once, even by many
// concurrent callers, and forgotten after its time.
func useOnceConformance(t *testing.T, st Store) {
	s, ok := st.(UseOnce)
	if !ok {
		t.Fatalf("%T does not implement UseOnce", st)
	}
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	if used, err := s.Used(ctx, "flow:a"); err != nil || used {
		t.Fatalf("Used of a new key: %t %v", used, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			err := s.Use(ctx, "flow:a", until)
			if err != nil && !errors.Is(err, ErrUsed) {
				t.Errorf("Use: %v", err)
			}
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("a single-use key was used %d times", wins)
	}
	if used, err := s.Used(ctx, "flow:a"); err != nil || !used {
		t.Fatalf("Used after Use: %t %v", used, err)
	}
	if err := s.Use(ctx, "flow:b", until); err != nil {
		t.Fatalf("another key: %v", err)
	}
	// A record past its time is forgotten.
	if err := s.Use(ctx, "flow:old", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if used, _ := s.Used(ctx, "flow:old"); used {
		t.Errorf("an expired record still counts")
	}
	if err := s.Use(ctx, "flow:old", until); err != nil {
		t.Errorf("an expired key could not be used again: %v", err)
	}
}

// credentialsConformance checks the Store methods.
func credentialsConformance(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of nothing: %v", err)
	}
	v, err := s.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": "a1", "nested": map[string]any{"x": "1"}})
	if err != nil || v != 1 {
		t.Fatalf("first write: %d %v", v, err)
	}
	if _, err := s.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": "other"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second first-write: %v", err)
	}
	r, _ := s.Get(ctx, "c1")
	r.Credentials["nested"].(map[string]any)["x"] = "changed"
	if r2, _ := s.Get(ctx, "c1"); r2.Credentials["nested"].(map[string]any)["x"] != "1" || r2.Version != 1 {
		t.Fatalf("stored record changed through a returned map: %+v", r2)
	}
	// Concurrent writers from the same version: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 50 {
		wg.Go(func() {
			if _, err := s.CompareAndSwap(ctx, "c1", 1, map[string]any{"access_token": i}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if r, _ := s.Get(ctx, "c1"); wins != 1 || r.Version != 2 {
		t.Fatalf("%d writers won from one version; version %d", wins, r.Version)
	}
	// State is written without a version and survives credential writes.
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.SetState(ctx, "c1", State{Status: StatusNeedsReauth, LastError: "invalid_grant", NextRefresh: next}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "nobody", State{Status: StatusConnected}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetState of nothing: %v", err)
	}
	s.CompareAndSwap(ctx, "c1", 2, map[string]any{"access_token": "a3"})
	r, _ = s.Get(ctx, "c1")
	if r.State.Status != StatusNeedsReauth || r.State.LastError != "invalid_grant" || !r.State.NextRefresh.Equal(next) || r.Version != 3 {
		t.Fatalf("state = %+v, version %d", r.State, r.Version)
	}
}

// catalogStore is what the catalog checks need: a delete also removes the
// credentials and the state kept by the Store.
type catalogStore interface {
	Store
	Catalog
}

// catalogConformance checks the Catalog methods, each case on a fresh store.
func catalogConformance(t *testing.T, open func(t *testing.T) Store) {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, s catalogStore)
	}{
		{"put then get round-trips every field, nested input and CreatedAt", func(t *testing.T, ctx context.Context, s catalogStore) {
			created := time.Date(2024, 5, 6, 9, 8, 9, 123456789, time.FixedZone("CEST", 2*60*60))
			info := ConnectionInfo{ID: "conn-1", Connector: "stripe", Option: "api_key", Account: "acme", CreatedAt: created,
				Input: map[string]any{
					"api_key": "sk-test-1", "ratio": 1.5, "enabled": true, "unset": nil,
					"nested": map[string]any{"host": "eu.example.com", "scopes": []any{"read", map[string]any{"write": "own"}}},
				}}
			if err := s.PutConnection(ctx, info); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetConnection(ctx, "conn-1")
			if err != nil {
				t.Fatal(err)
			}
			want := info
			want.CreatedAt = created.Truncate(time.Microsecond) // kept to the microsecond, returned in UTC
			checkInfo(t, got, want)
		}},
		{"put with a zero CreatedAt stamps the time of the put", func(t *testing.T, ctx context.Context, s catalogStore) {
			before := time.Now().Truncate(time.Microsecond)
			if err := s.PutConnection(ctx, ConnectionInfo{ID: "conn-1", Connector: "github"}); err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			got, err := s.GetConnection(ctx, "conn-1")
			if err != nil || got.CreatedAt.Before(before) || got.CreatedAt.After(after) || got.Option != "" || got.Account != "" || got.Input != nil {
				t.Fatalf("got %+v, %v; CreatedAt want within [%v, %v]", got, err, before, after)
			}
		}},
		{"put refuses an empty ID and a CreatedAt past year 9999", func(t *testing.T, ctx context.Context, s catalogStore) {
			for _, info := range []ConnectionInfo{
				{Connector: "github"},
				{ID: "conn-1", Connector: "github", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			} {
				if err := s.PutConnection(ctx, info); err == nil {
					t.Errorf("PutConnection(%+v) succeeded", info)
				}
			}
			if list, err := s.ListConnections(ctx, ""); err != nil || len(list) != 0 {
				t.Errorf("a refused put was stored: %+v, %v", list, err)
			}
		}},
		{"get of an unknown connection is ErrNotFound, even with credentials stored", func(t *testing.T, ctx context.Context, s catalogStore) {
			if _, err := s.GetConnection(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown: %v", err)
			}
			if _, err := s.CompareAndSwap(ctx, "creds-only", 0, map[string]any{"access_token": "a"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetConnection(ctx, "creds-only"); !errors.Is(err, ErrNotFound) {
				t.Errorf("credentials without info: %v", err)
			}
		}},
		{"put replaces the stored info", func(t *testing.T, ctx context.Context, s catalogStore) {
			first := ConnectionInfo{ID: "conn-1", Connector: "openai", Account: "acme", CreatedAt: t0,
				Input: map[string]any{"api_key": "old", "org": "o-1"}}
			second := ConnectionInfo{ID: "conn-1", Connector: "openai", Option: "project_key", Account: "globex", CreatedAt: t0.Add(time.Hour),
				Input: map[string]any{"api_key": "new"}}
			for _, info := range []ConnectionInfo{first, second} {
				if err := s.PutConnection(ctx, info); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.GetConnection(ctx, "conn-1")
			if err != nil {
				t.Fatal(err)
			}
			checkInfo(t, got, second)
			if list, _ := s.ListConnections(ctx, "acme"); len(list) != 0 {
				t.Errorf("the old account still lists it: %+v", list)
			}
			if list, _ := s.ListConnections(ctx, ""); len(list) != 1 {
				t.Errorf("a replacement added a connection: %+v", list)
			}
		}},
		{"list by account returns that account's connections oldest first, then by ID; \"\" lists all", func(t *testing.T, ctx context.Context, s catalogStore) {
			// Put out of order; IDs tie-break bytewise ("conn-B" < "conn-a").
			for _, info := range []ConnectionInfo{
				{ID: "conn-b", Account: "acme", CreatedAt: t0.Add(2 * time.Second)},
				{ID: "other-1", Account: "globex", CreatedAt: t0.Add(time.Second)},
				{ID: "conn-a", Account: "acme", CreatedAt: t0.Add(2 * time.Second)},
				{ID: "conn-c", Account: "acme", CreatedAt: t0.Add(time.Microsecond)},
				{ID: "conn-B", Account: "acme", CreatedAt: t0.Add(2 * time.Second)},
				{ID: "conn-d", Account: "acme", CreatedAt: t0},
			} {
				info.Connector, info.Input = "slack", map[string]any{"id": info.ID}
				if err := s.PutConnection(ctx, info); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				account string
				want    []string
			}{
				{"acme", []string{"conn-d", "conn-c", "conn-B", "conn-a", "conn-b"}},
				{"globex", []string{"other-1"}},
				{"", []string{"conn-d", "conn-c", "other-1", "conn-B", "conn-a", "conn-b"}},
				{"nobody", []string{}},
			} {
				list, err := s.ListConnections(ctx, tc.account)
				if err != nil {
					t.Fatal(err)
				}
				if got := infoIDs(list); list == nil || !slices.Equal(got, tc.want) {
					t.Errorf("ListConnections(%q) = %q (nil: %t), want %q", tc.account, got, list == nil, tc.want)
				}
				for _, info := range list {
					if info.Input["id"] != info.ID || info.Connector != "slack" || (tc.account != "" && info.Account != tc.account) {
						t.Errorf("ListConnections(%q) returned %+v", tc.account, info)
					}
				}
			}
		}},
		{"maps given to put and returned by get and list are copies", func(t *testing.T, ctx context.Context, s catalogStore) {
			input := map[string]any{"api_key": "k", "nested": map[string]any{"host": "h"}, "list": []any{map[string]any{"x": "1"}}}
			if err := s.PutConnection(ctx, ConnectionInfo{ID: "conn-1", Connector: "c", CreatedAt: t0, Input: input}); err != nil {
				t.Fatal(err)
			}
			mutate := func(m map[string]any) {
				m["api_key"] = "changed"
				m["nested"].(map[string]any)["host"] = "changed"
				m["list"].([]any)[0].(map[string]any)["x"] = "changed"
			}
			mutate(input)
			got, _ := s.GetConnection(ctx, "conn-1")
			mutate(got.Input)
			list, _ := s.ListConnections(ctx, "")
			mutate(list[0].Input)
			want := map[string]any{"api_key": "k", "nested": map[string]any{"host": "h"}, "list": []any{map[string]any{"x": "1"}}}
			if got, _ := s.GetConnection(ctx, "conn-1"); !reflect.DeepEqual(got.Input, want) {
				t.Errorf("stored input changed through a caller's map: %v", got.Input)
			}
		}},
		{"delete removes the info, the credentials and the state", func(t *testing.T, ctx context.Context, s catalogStore) {
			if err := s.PutConnection(ctx, ConnectionInfo{ID: "conn-1", Connector: "c", Input: map[string]any{"api_key": "k"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CompareAndSwap(ctx, "conn-1", 0, map[string]any{"access_token": "a"}); err != nil {
				t.Fatal(err)
			}
			if err := s.SetState(ctx, "conn-1", State{Status: StatusNeedsReauth, LastError: "invalid_grant"}); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteConnection(ctx, "conn-1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetConnection(ctx, "conn-1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetConnection after delete: %v", err)
			}
			if _, err := s.Get(ctx, "conn-1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after delete: %v", err)
			}
			if err := s.DeleteConnection(ctx, "conn-1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("second delete: %v", err)
			}
			// The connection starts afresh: no version and no state left over.
			if v, err := s.CompareAndSwap(ctx, "conn-1", 0, map[string]any{"access_token": "b"}); err != nil || v != 1 {
				t.Fatalf("first write after delete: %d %v", v, err)
			}
			if r, _ := s.Get(ctx, "conn-1"); r.State.Status != "" || r.State.LastError != "" {
				t.Errorf("state survived the delete: %+v", r.State)
			}
		}},
		{"delete of an unknown connection is ErrNotFound", func(t *testing.T, ctx context.Context, s catalogStore) {
			if err := s.DeleteConnection(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v", err)
			}
		}},
		{"delete of a connection with only credentials or only info succeeds", func(t *testing.T, ctx context.Context, s catalogStore) {
			if _, err := s.CompareAndSwap(ctx, "creds-only", 0, map[string]any{"access_token": "a"}); err != nil {
				t.Fatal(err)
			}
			if err := s.PutConnection(ctx, ConnectionInfo{ID: "info-only", Connector: "c"}); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"creds-only", "info-only"} {
				if err := s.DeleteConnection(ctx, id); err != nil {
					t.Errorf("delete %s: %v", id, err)
				}
			}
			if _, err := s.Get(ctx, "creds-only"); !errors.Is(err, ErrNotFound) {
				t.Errorf("credentials survived: %v", err)
			}
			if _, err := s.GetConnection(ctx, "info-only"); !errors.Is(err, ErrNotFound) {
				t.Errorf("info survived: %v", err)
			}
		}},
		{"concurrent puts and deletes", func(t *testing.T, ctx context.Context, s catalogStore) {
			const workers, rounds = 8, 10
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					own := fmt.Sprintf("own-%d", w)
					for r := range rounds {
						// Each worker's own connection: a full life every round.
						round := map[string]any{"round": fmt.Sprint(r)}
						if err := s.PutConnection(ctx, ConnectionInfo{ID: own, Connector: "c", Account: "acme", Input: round}); err != nil {
							t.Error(err)
							return
						}
						if _, err := s.CompareAndSwap(ctx, own, 0, round); err != nil {
							t.Errorf("round %d: credentials left over from the last round: %v", r, err)
							return
						}
						if got, err := s.GetConnection(ctx, own); err != nil || !reflect.DeepEqual(got.Input, round) {
							t.Errorf("round %d: %+v %v", r, got, err)
							return
						}
						if err := s.DeleteConnection(ctx, own); err != nil {
							t.Error(err)
							return
						}
						// Shared connections: puts and deletes race; a delete may find nothing left.
						shared := fmt.Sprintf("shared-%d", r%2)
						if err := s.PutConnection(ctx, ConnectionInfo{ID: shared, Connector: "c", Account: "acme", Input: round}); err != nil {
							t.Error(err)
							return
						}
						if err := s.DeleteConnection(ctx, shared); err != nil && !errors.Is(err, ErrNotFound) {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			// Every put was followed by a delete of the same ID in its goroutine.
			if list, err := s.ListConnections(ctx, ""); err != nil || len(list) != 0 {
				t.Errorf("left over: %v %v", infoIDs(list), err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := open(t).(catalogStore)
			if !ok {
				t.Fatal("the store does not implement Catalog")
			}
			tc.run(t, t.Context(), s)
		})
	}
}

// checkInfo compares connection infos; CreatedAt must be the same instant, in UTC.
func checkInfo(t *testing.T, got, want ConnectionInfo) {
	t.Helper()
	if got.ID != want.ID || got.Connector != want.Connector || got.Option != want.Option || got.Account != want.Account ||
		!reflect.DeepEqual(got.Input, want.Input) || !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func infoIDs(list []ConnectionInfo) []string {
	ids := []string{}
	for _, info := range list {
		ids = append(ids, info.ID)
	}
	return ids
}
