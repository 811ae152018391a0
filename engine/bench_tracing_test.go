package engine

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkRequestTracing is BenchmarkRequest/engine with tracing off (the
// default: no option given) and on (WithTracerProvider, every span
// exported through the SDK's batcher to an exporter that drops them).
// Off must cost what BenchmarkRequest/engine costs: the same allocations.
func BenchmarkRequestTracing(b *testing.B) {
	srv := benchServer(b)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	for _, c := range []struct {
		name string
		opts []Option
	}{{"off", nil}, {"on", []Option{WithTracerProvider(tp)}}} {
		e := New(c.opts...)
		src := strings.ReplaceAll(apiKeyHeader, "{{URL}}", srv.URL)
		if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		cl, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_bench"}})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doBench(b, cl.HTTPClient(), "/users", false)
			}
		})
	}
}
