package engine

import (
	"fmt"
	"sync"
	"testing"
)

// Renewal locks exclude each other per connection and are dropped when no
// one holds or waits for them: one kept per connection ever renewed grew
// without bound (15 MB after 100,000 connections).
func TestConnectionLocksExcludeAndAreDropped(t *testing.T) {
	e := New()
	var wg sync.WaitGroup
	inside := map[string]int{}
	var mu sync.Mutex
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("conn-%d", i%20)
			unlock := e.lock(id)
			mu.Lock()
			inside[id]++
			if inside[id] != 1 {
				t.Errorf("%s: %d holders at once", id, inside[id])
			}
			mu.Unlock()
			mu.Lock()
			inside[id]--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	if n := len(e.locks); n != 0 {
		t.Fatalf("%d locks kept after every holder released them", n)
	}
}
