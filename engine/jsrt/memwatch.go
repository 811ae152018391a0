package jsrt

import (
	"runtime/metrics"
	"sync"
	"time"
)

// The heap watcher stops calls while the process's live heap (as measured
// at the end of each garbage collection) has grown by more than a call's
// limit since the call started. One goroutine serves all calls and runs only
// while calls are in flight.

const liveHeapMetric = "/gc/heap/live:bytes"

const heapPollInterval = 2 * time.Millisecond

type heapCall struct {
	base, limit uint64
	interrupt   func()
	fired       bool
}

var heapWatch struct {
	mu      sync.Mutex
	calls   map[*heapCall]struct{}
	running bool
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: liveHeapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// watchHeap starts watching for one call. The returned stop reports whether
// interrupt was not called; after it returns, interrupt will not be called.
func watchHeap(limit uint64, interrupt func()) (stop func() bool) {
	c := &heapCall{base: liveHeap(), limit: limit, interrupt: interrupt}
	heapWatch.mu.Lock()
	if heapWatch.calls == nil {
		heapWatch.calls = make(map[*heapCall]struct{})
	}
	heapWatch.calls[c] = struct{}{}
	if !heapWatch.running {
		heapWatch.running = true
		go heapLoop()
	}
	heapWatch.mu.Unlock()
	return func() bool {
		heapWatch.mu.Lock()
		defer heapWatch.mu.Unlock()
		delete(heapWatch.calls, c)
		return !c.fired
	}
}

func heapLoop() {
	t := time.NewTicker(heapPollInterval)
	defer t.Stop()
	for range t.C {
		live := liveHeap()
		heapWatch.mu.Lock()
		if len(heapWatch.calls) == 0 {
			heapWatch.running = false
			heapWatch.mu.Unlock()
			return
		}
		for c := range heapWatch.calls {
			// The metric is only refreshed by a collection, so the value read
			// when the call started may still count garbage from before it:
			// follow the baseline down to the lowest live heap seen since.
			c.base = min(c.base, live)
			if !c.fired && live > c.base && live-c.base > c.limit {
				c.fired = true
				c.interrupt()
			}
		}
		heapWatch.mu.Unlock()
	}
}
