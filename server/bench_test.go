package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// benchEnv is a server with one connection of the keyed connector, on
// serve's upstream transport.
func benchEnv(b *testing.B) (*env, *apiServer, string) {
	api := newAPIServer(b, canaryAPIKey)
	e, id := proxyEnv(b, api, nil)
	return e, api, id
}

// upstreamTransport is the transport `connspec serve` sends API requests
// on (cmd/connspec/serve.go): 64 idle connections per host. The proxies
// compared in BenchmarkProxy all use one like it.
func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// proxyEnv is a server in front of api with one connection, on serve's
// upstream transport, traced by tp when it is not nil.
func proxyEnv(b *testing.B, api *apiServer, tp trace.TracerProvider) (*env, string) {
	e := newEnv(b, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}, quiet: true,
		engineOpts: []engine.Option{engine.WithTransport(upstreamTransport())}, tracerProvider: tp})
	return e, e.createKeyed(canaryAPIKey, "acc")
}

// reverseProxy is the limit of one proxy hop: net/http/httputil's
// ReverseProxy in front of api, setting the credential header by hand;
// pooled, it reuses its copy buffers (BufferPool) as serve's proxy does.
func reverseProxy(b *testing.B, api *apiServer, pooled bool) string {
	target, _ := url.Parse(api.URL)
	var pool httputil.BufferPool
	if pooled {
		pool = &bufferPool{}
	}
	rp := &httputil.ReverseProxy{Transport: upstreamTransport(), BufferPool: pool, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Header.Del("Authorization")
		pr.Out.Header.Set("X-Api-Key", canaryAPIKey)
	}}
	srv := httptest.NewServer(rp)
	b.Cleanup(srv.Close)
	return srv.URL
}

// bufferPool is an httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// BenchmarkProxy compares requests straight to the API (the key set by
// hand), through a minimal httputil.ReverseProxy setting the key (the limit
// of one proxy hop) and through the serve proxy, untraced and traced, on
// loopback and in one run, so the ratios compare side by side.
func BenchmarkProxy(b *testing.B) {
	e, api, id := benchEnv(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	run := func(b *testing.B, url string, header http.Header) { measureProxy(b, client, url, header) }
	b.Run("direct", func(b *testing.B) {
		run(b, api.URL+"/me", http.Header{"X-Api-Key": {canaryAPIKey}})
	})
	// The limit of one proxy hop, then serve's proxy on the same upstream
	// transport, with tracing off and on (every span exported, through the
	// SDK's batcher, to an exporter that drops them).
	b.Run("reverse-proxy", func(b *testing.B) {
		run(b, reverseProxy(b, api, false)+"/me", http.Header{"Authorization": {"Bearer " + testAdminKey}})
	})
	b.Run("reverse-proxy-pooled", func(b *testing.B) {
		run(b, reverseProxy(b, api, true)+"/me", http.Header{"Authorization": {"Bearer " + testAdminKey}})
	})
	b.Run("through-serve", func(b *testing.B) {
		run(b, e.URL+"/v1/proxy/"+id+"/me", http.Header{"Authorization": {"Bearer " + testAdminKey}})
	})
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	traced, tracedID := proxyEnv(b, api, tp)
	b.Run("through-serve-traced", func(b *testing.B) {
		run(b, traced.URL+"/v1/proxy/"+tracedID+"/me", http.Header{"Authorization": {"Bearer " + testAdminKey}})
	})
	// A stored key is read from the store on every request (no cache, so a
	// revocation holds at once); a limited one reads the connection too.
	stored, _ := e.makeKey("bench", []string{server.ScopeProxy}, "", "")
	limited, _ := e.makeKey("bench limited", []string{server.ScopeProxy}, "acc", "keyed")
	b.Run("through-serve-stored-key", func(b *testing.B) {
		run(b, e.URL+"/v1/proxy/"+id+"/me", http.Header{"Authorization": {"Bearer " + stored}})
	})
	b.Run("through-serve-limited-key", func(b *testing.B) {
		run(b, e.URL+"/v1/proxy/"+id+"/me", http.Header{"Authorization": {"Bearer " + limited}})
	})
}

// measureProxy sends GET url with header from GOMAXPROCS parallel clients
// and reports req/s, p50 and p99.
func measureProxy(b *testing.B, client *http.Client, url string, header http.Header) float64 {
	b.ReportAllocs()
	var mu sync.Mutex
	var all []time.Duration
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() { mu.Lock(); all = append(all, mine...); mu.Unlock() }()
		for pb.Next() {
			began := time.Now()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header = header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
			mine = append(mine, time.Since(began))
		}
	})
	rps := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rps, "req/s")
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
	return rps
}

// measureLatencyAt sends GET url with header at a fixed rate, open loop:
// each request leaves at its scheduled time whether or not earlier ones
// have answered, so a slow answer does not slow the requests after it
// (no coordinated omission). It reports the p50, p99 and p99.9 of the
// time from each request's start to the end of its response, and the
// rate it was given. (Timed from the start, not the schedule: Go's sleep
// overshoots sub-millisecond intervals, which is the client's lateness, not
// the proxy's latency.)
//
// A closed loop at full load (measureProxy) shows throughput; its p99 is
// mostly queueing for the two cores the client, the proxy and the API
// share, and flips between a scheduler tick and two. At a rate all of
// them keep up with, the p99 is the proxy's own latency.
func measureLatencyAt(b *testing.B, client *http.Client, url string, header http.Header, rate float64) {
	b.ReportAllocs()
	interval := time.Duration(float64(time.Second) / rate)
	took := make([]time.Duration, b.N)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header = header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
			took[i] = time.Since(began)
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	slices.Sort(took)
	b.ReportMetric(rate, "rate-req/s")
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(took[len(took)*999/1000].Microseconds()), "p999-µs")
}

// BenchmarkMemoryPerConnection stores 10,000 connections in the memory
// store, sends one proxy request through each (so each has a live, cached
// client), and reports the heap they hold per connection: the stored
// records, the live client, and both. The compiled connector is shared and
// not counted.
func BenchmarkMemoryPerConnection(b *testing.B) {
	const n = 10000
	for range b.N {
		e, _, _ := benchEnv(b)
		ctx := context.Background()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			id := fmt.Sprintf("conn_bench_%05d", i)
			if err := e.Store.PutConnection(ctx, store.ConnectionInfo{ID: id, Connector: "keyed", Account: fmt.Sprint("acc-", i), Input: map[string]any{"apiKey": canaryAPIKey}}); err != nil {
				b.Fatal(err)
			}
			if _, err := e.Store.CompareAndSwap(ctx, id, 0, map[string]any{"apiKey": canaryAPIKey}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var stored runtime.MemStats
		runtime.ReadMemStats(&stored)
		for i := range n {
			req, _ := http.NewRequest("GET", e.URL+"/v1/proxy/"+fmt.Sprintf("conn_bench_%05d", i)+"/me", nil)
			req.Header.Set("Authorization", "Bearer "+testAdminKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		client.CloseIdleConnections()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(stored.HeapAlloc)-int64(before.HeapAlloc))/n, "stored-B/conn")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(stored.HeapAlloc))/n, "live-client-B/conn")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/conn")
		runtime.KeepAlive(e)
	}
}
