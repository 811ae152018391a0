package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const traceCanaryQuery = "qs_SERVETRACECANARY"

func TestProxyTracingContinuesTheCallersTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}, tracerProvider: tp})
	id := e.createKeyed(canaryAPIKey, "acc")

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := e.proxy("GET", id, "echo?api_key="+traceCanaryQuery, nil, http.Header{"Traceparent": {"00-" + callerTrace + "-" + callerSpan + "-01"}})
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("proxy: %d %s", resp.StatusCode, body)
	}
	// One span per proxied request: it stands for the API request too
	// (engine.WithRequestSpan), so there is no client span beside it. The
	// span ends when the handler returns, which may be just after the
	// caller has the whole answer.
	var spans []sdktrace.ReadOnlySpan
	var proxySpan sdktrace.ReadOnlySpan
	var names []string
	for deadline := time.Now().Add(5 * time.Second); proxySpan == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		spans, names = rec.Ended(), nil
		for _, s := range spans {
			if s.SpanContext().TraceID().String() != callerTrace {
				continue // creating the connection
			}
			names = append(names, s.Name())
			if s.Name() == "proxy GET" {
				proxySpan = s
			}
		}
	}
	if proxySpan == nil || slices.Contains(names, "HTTP GET") {
		t.Fatalf("spans of the caller's trace %v: want a proxy span and no client span", names)
	}
	if got := proxySpan.Parent(); got.TraceID().String() != callerTrace || got.SpanID().String() != callerSpan || !got.IsRemote() {
		t.Errorf("the proxy span's parent is %v, not the caller's span", got)
	}
	want := map[string]string{"connspec.connection": id, "connspec.connector": "keyed", "http.route": "/v1/proxy/{id}/{path...}", "http.request.method": "GET", "http.response.status_code": "200"}
	for k, v := range want {
		if got := attr(proxySpan, k); got != v {
			t.Errorf("proxy span %s = %q, want %q", k, got, v)
		}
	}
	// The API received the trace: the caller's trace, the proxy span as parent.
	api.mu.Lock()
	got := api.lastSeen.Get("Traceparent")
	api.mu.Unlock()
	if wantTP := "00-" + callerTrace + "-" + proxySpan.SpanContext().SpanID().String() + "-01"; got != wantTP {
		t.Errorf("the API received traceparent %q, want %q", got, wantTP)
	}
	for _, s := range spans {
		texts := []string{s.Name(), s.Status().Description}
		for _, kv := range s.Attributes() {
			texts = append(texts, kv.Value.Emit())
		}
		for _, ev := range s.Events() {
			texts = append(texts, ev.Name)
		}
		for _, text := range texts {
			for _, secret := range []string{canaryAPIKey, testAdminKey, traceCanaryQuery, "Bearer"} {
				if strings.Contains(text, secret) {
					t.Errorf("span %q holds %q: %q", s.Name(), secret, text)
				}
			}
		}
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
