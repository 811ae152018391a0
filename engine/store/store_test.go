package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestMemoryConformance is the behaviour every Store must have; durable
// stores run the same checks.
func TestMemoryConformance(t *testing.T) { Conformance(t, NewMemory()) }

// Conformance checks a Store implementation.
func Conformance(t *testing.T, s Store) {
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
