package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// importRenewals stores n connections as seedRenewals does, through the
// store's Import (one transaction per 10,000): due for renewal at once
// when due is set, else half-way through life.
func importRenewals(t testing.TB, p *renewProvider, s store.Store, n int, life time.Duration, due bool) []string {
	t.Helper()
	imp, ok := s.(store.Importer)
	if !ok {
		return seedRenewals(t, p, s, n, life)
	}
	ids := make([]string, n)
	batch := make([]store.Imported, 0, 10000)
	flush := func() {
		if err := imp.Import(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range ids {
		id := fmt.Sprintf("r-%06d", i)
		ids[i] = id
		p.mu.Lock()
		access, refresh, exp := p.issueLocked(id, life)
		p.mu.Unlock()
		next := exp.Add(-life / 2)
		if due {
			next = time.Now().Add(-time.Second)
		}
		batch = append(batch, store.Imported{
			Info:        store.ConnectionInfo{ID: id, Connector: "c"},
			Credentials: map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_at": formatExpiresAt(exp)},
			State:       store.State{Status: store.StatusConnected, NextRefresh: next},
		})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return ids
}

// heapAfterGC is the live heap, in bytes.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBackgroundRenewal measures one scheduler renewing
// CONNSPEC_RENEW_BENCH_N stored connections (default 1000), all due at
// once, against a loopback token endpoint that rotates refresh tokens; on
// SQLite, and on PostgreSQL when CONNSPEC_TEST_POSTGRES_URL is set. Each
// iteration imports the connections into a new store (untimed). Reported:
// renewals/s; claim-ms, one claim of a batch (1,000) among n due
// connections, and idle-claim-ms, the same claim once every connection is
// renewed (what each poll costs at rest); heap-MB, the live heap after
// renewing (the process: engine, stores, and the loopback provider's
// token maps), engine-MB of it retained by the engine, sys-MB the memory
// the process obtained from the OS. No refresh token may be presented twice.
func BenchmarkBackgroundRenewal(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CONNSPEC_RENEW_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
			if kind == "postgres" && os.Getenv("CONNSPEC_TEST_POSTGRES_URL") == "" {
				b.Skip("CONNSPEC_TEST_POSTGRES_URL is not set")
			}
			p := newRenewProvider(b, time.Hour)
			ctx := context.Background()
			query := store.DueQuery{Limit: 1000, ClaimFor: time.Minute, FreshAhead: time.Minute, FreshAll: true}
			claim := func(q store.RenewalQueue) (time.Duration, int) {
				began := time.Now()
				claims, err := q.ClaimDue(ctx, query)
				took := time.Since(began)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range claims {
					q.Release(ctx, c, 0)
				}
				return took, len(claims)
			}
			var total, claimBusy, claimIdle time.Duration
			var heap, engineHeap uint64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				var s store.Store
				if kind == "sqlite" {
					s = sqliteStores(b, 1)[0]
				} else {
					s = postgresStores(b, 1)[0]
				}
				importRenewals(b, p, s, n, time.Hour, true)
				q := s.(store.RenewalQueue)
				if took, got := claim(q); got != min(n, query.Limit) {
					b.Fatalf("a claim among %d due connections took %d", n, got)
				} else {
					claimBusy += took
				}
				e := newEngine(b, p.srv, renewConnector, WithStore(s), WithLogger(slog.New(slog.DiscardHandler)))
				var renewed, failed atomic.Int64
				rctx, cancel := context.WithCancel(ctx)
				all := make(chan struct{})
				o := RenewalOptions{KeepFresh: []string{"*"}, Ahead: time.Minute, Rate: 1e6, Concurrency: 8, Interval: 10 * time.Millisecond,
					Connection: renewConnection, OnRenewal: func(_ string, err error) {
						if err != nil {
							failed.Add(1)
						}
						if renewed.Add(1) == int64(n) {
							close(all)
						}
					}}
				b.StartTimer()
				began := time.Now()
				stopped := make(chan struct{})
				go func() { e.RunRenewal(rctx, o); close(stopped) }()
				<-all
				total += time.Since(began)
				b.StopTimer()
				cancel()
				<-stopped
				if f := failed.Load(); f != 0 {
					b.Fatalf("%d of %d renewals failed", f, n)
				}
				if took, got := claim(q); got != 0 {
					b.Fatalf("%d connections still due after renewing all", got)
				} else {
					claimIdle += took
				}
				withEngine := heapAfterGC()
				runtime.KeepAlive(e)
				e = nil
				without := heapAfterGC()
				heap += withEngine
				if withEngine > without {
					engineHeap += withEngine - without
				}
				b.StartTimer()
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "renewals/s")
			b.ReportMetric(float64(claimBusy.Microseconds())/1000/float64(b.N), "claim-ms")
			b.ReportMetric(float64(claimIdle.Microseconds())/1000/float64(b.N), "idle-claim-ms")
			b.ReportMetric(float64(heap)/float64(b.N)/(1<<20), "heap-MB")
			b.ReportMetric(float64(engineHeap)/float64(b.N)/(1<<20), "engine-MB")
			b.ReportMetric(float64(m.Sys)/(1<<20), "sys-MB")
			if r := p.reused.Load(); r != 0 {
				b.Fatalf("%d refresh tokens presented twice", r)
			}
		})
	}
}
