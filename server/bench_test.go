package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/connspec/connspec/engine/store"
)

// benchEnv is a server with one connection of the keyed connector.
func benchEnv(b *testing.B) (*env, *apiServer, string) {
	api := newAPIServer(b, canaryAPIKey)
	e := newEnv(b, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	return e, api, e.createKeyed(canaryAPIKey, "acc")
}

// BenchmarkProxy compares requests straight to the API (the key set by
// hand) with the same requests through the serve proxy, on loopback.
func BenchmarkProxy(b *testing.B) {
	e, api, id := benchEnv(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	run := func(b *testing.B, url string, header http.Header) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
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
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("direct", func(b *testing.B) {
		run(b, api.URL+"/me", http.Header{"X-Api-Key": {canaryAPIKey}})
	})
	b.Run("through-serve", func(b *testing.B) {
		run(b, e.URL+"/v1/proxy/"+id+"/me", http.Header{"Authorization": {"Bearer " + testAdminKey}})
	})
}

// BenchmarkMemoryPerConnection stores 10,000 connections, sends one proxy
// request through each (so each has a live client), and reports the heap
// they hold: stored records plus cached clients, per connection. The
// compiled connector is shared and not counted.
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
			req, _ := http.NewRequest("GET", e.URL+"/v1/proxy/"+id+"/me", nil)
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
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/conn")
		runtime.KeepAlive(e)
	}
}
