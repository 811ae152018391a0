package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Canaries of the tracing tests: none may appear in a span.
const (
	traceCanaryAccess  = "at_TRACECANARY1"
	traceCanaryRefresh = "rt_TRACECANARY2"
	traceCanaryQuery   = "qs_TRACECANARY3"
	traceCanarySecret  = "cs_TRACECANARY4"
)

// traceAPI is a token endpoint and an API that remember the traceparent
// headers they were sent. token answers the token requests.
type traceAPI struct {
	*httptest.Server
	mu          sync.Mutex
	traceparent map[string][]string // path -> headers received
}

func newTraceAPI(t *testing.T, token http.HandlerFunc) *traceAPI {
	a := &traceAPI{traceparent: map[string][]string{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.traceparent[r.URL.Path] = append(a.traceparent[r.URL.Path], r.Header.Get("Traceparent"))
		a.mu.Unlock()
		switch r.URL.Path {
		case "/token":
			token(w, r)
		case "/api":
			if r.Header.Get("Authorization") != "Bearer "+traceCanaryAccess {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *traceAPI) received(path string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.traceparent[path]...)
}

func traceConnector(srv *httptest.Server) string {
	return strings.ReplaceAll(`name: C
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: id-1, clientSecret: `+traceCanarySecret+`, authorizeUri: "{{URL}}/authorize", tokenUri: "{{URL}}/token"}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`, "{{URL}}", srv.URL)
}

func recordingProvider() (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), rec
}

// assertNoSecretsInSpans fails when a span's name, attributes, status or
// events hold one of secrets.
func assertNoSecretsInSpans(t *testing.T, spans []sdktrace.ReadOnlySpan, secrets ...string) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name(), s.Status().Description}
		for _, kv := range s.Attributes() {
			texts = append(texts, string(kv.Key), kv.Value.Emit())
		}
		for _, ev := range s.Events() {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					t.Errorf("span %q holds a secret: %q", s.Name(), text)
				}
			}
		}
	}
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func spansNamed(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// expiredTracedClient is a traced client of a connection whose access
// token the API refuses, so its first request renews it, against a token
// endpoint that answers with canary tokens.
func expiredTracedClient(t *testing.T, id string) (*traceAPI, *sdktrace.TracerProvider, *tracetest.SpanRecorder, *Client) {
	api := newTraceAPI(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"` + traceCanaryAccess + `","refresh_token":"` + traceCanaryRefresh + `","expires_in":3600,"token_type":"bearer"}`))
	})
	tp, rec := recordingProvider()
	e := newEngine(t, api.Server, traceConnector(api.Server), WithTracerProvider(tp))
	return api, tp, rec, mustClient(t, e, Connection{ID: id, Credentials: map[string]any{"access_token": "expired", "refresh_token": traceCanaryRefresh}})
}

func TestTracingRenewalSpansAndTraceparent(t *testing.T) {
	api, tp, rec, cl := expiredTracedClient(t, "conn-t1")

	ctx, root := tp.Tracer("test").Start(context.Background(), "caller")
	if _, err := cl.Get(ctx, "/api?api_key="+traceCanaryQuery); err != nil {
		t.Fatal(err)
	}
	root.End()
	spans := rec.Ended()
	traceID := root.SpanContext().TraceID().String()

	renewals := spansNamed(spans, "connspec.renewal")
	if len(renewals) != 1 {
		t.Fatalf("%d renewal spans, want 1", len(renewals))
	}
	r := renewals[0]
	if got := spanAttr(r, "connspec.renewal.outcome"); got != "renewed" {
		t.Errorf("renewal outcome %q", got)
	}
	if r.Parent().TraceID().String() != traceID || spanAttr(r, "connspec.connection") != "conn-t1" || spanAttr(r, "connspec.connector") != "c" {
		t.Errorf("renewal span: trace %s, attributes %v", r.Parent().TraceID(), r.Attributes())
	}
	if len(spansNamed(spans, "connspec.method makeApiClient")) == 0 {
		t.Error("no span for the makeApiClient method run")
	}
	// The API (twice: refused, then accepted) and the token endpoint each
	// received a traceparent of the caller's trace.
	for _, path := range []string{"/api", "/token"} {
		got := api.received(path)
		if len(got) == 0 {
			t.Fatalf("%s was not called", path)
		}
		for _, tp := range got {
			if !strings.HasPrefix(tp, "00-"+traceID+"-") {
				t.Errorf("%s received traceparent %q, want one of trace %s", path, tp, traceID)
			}
		}
	}
	if n := len(spansNamed(spans, "HTTP GET")); n != 2 {
		t.Errorf("%d client spans for the API requests, want 2", n)
	}
	assertNoSecretsInSpans(t, spans, traceCanaryAccess, traceCanaryRefresh, traceCanaryQuery, traceCanarySecret, "expired")
}

// A request sent under WithRequestSpan gets no client span: the covering
// span is the parent the API is told of. The token request of the renewal
// its 401 sets off still gets a client span, under the renewal span.
func TestTracingRequestSpanCoversTheRequest(t *testing.T) {
	api, tp, rec, cl := expiredTracedClient(t, "conn-t2")

	ctx, proxy := tp.Tracer("test").Start(context.Background(), "proxy GET")
	if _, err := cl.Get(WithRequestSpan(ctx), "/api"); err != nil {
		t.Fatal(err)
	}
	proxy.End()
	spans := rec.Ended()
	want := "00-" + proxy.SpanContext().TraceID().String() + "-" + proxy.SpanContext().SpanID().String() + "-01"
	got := api.received("/api")
	if len(got) != 2 {
		t.Fatalf("the API was called %d times, want 2 (refused, then with the renewed token)", len(got))
	}
	for _, tp := range got {
		if tp != want {
			t.Errorf("the API received traceparent %q, want the covering span's %q", tp, want)
		}
	}
	if n := len(spansNamed(spans, "HTTP GET")); n != 0 {
		t.Errorf("%d client spans for the covered API requests, want 0", n)
	}
	renewals := spansNamed(spans, "connspec.renewal")
	posts := spansNamed(spans, "HTTP POST")
	if len(renewals) != 1 || len(posts) != 1 {
		t.Fatalf("%d renewal spans and %d token request spans, want 1 and 1", len(renewals), len(posts))
	}
	if posts[0].Parent().SpanID() != renewals[0].SpanContext().SpanID() {
		t.Error("the token request's span is not a child of the renewal span")
	}
	if tok := api.received("/token"); len(tok) != 1 || !strings.Contains(tok[0], posts[0].SpanContext().SpanID().String()) {
		t.Errorf("the token endpoint received traceparent %q, want the token request span's", tok)
	}
}

func TestTracingRenewalOutcomes(t *testing.T) {
	for _, c := range []struct {
		outcome string
		answer  http.HandlerFunc
	}{
		{"needs_reauth", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token ` + traceCanaryRefresh + ` revoked"}`))
		}},
		{"failed", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("token store down for " + traceCanaryRefresh))
		}},
	} {
		t.Run(c.outcome, func(t *testing.T) {
			api := newTraceAPI(t, c.answer)
			tp, rec := recordingProvider()
			e := newEngine(t, api.Server, traceConnector(api.Server), WithTracerProvider(tp))
			cl := mustClient(t, e, Connection{ID: "conn-t2", Credentials: map[string]any{"access_token": "expired", "refresh_token": traceCanaryRefresh}})
			if _, err := cl.Get(context.Background(), "/api"); err == nil {
				t.Fatal("the request succeeded without a renewal")
			}
			spans := rec.Ended()
			renewals := spansNamed(spans, "connspec.renewal")
			if len(renewals) != 1 {
				t.Fatalf("%d renewal spans", len(renewals))
			}
			if got := spanAttr(renewals[0], "connspec.renewal.outcome"); got != c.outcome {
				t.Errorf("outcome %q, want %q", got, c.outcome)
			}
			if renewals[0].Status().Code.String() != "Error" {
				t.Errorf("status %v", renewals[0].Status())
			}
			assertNoSecretsInSpans(t, spans, traceCanaryRefresh, traceCanarySecret, "expired")
		})
	}
}

// Off by default: no traceparent is added to a connection's requests.
func TestTracingOffAddsNoTraceparent(t *testing.T) {
	api := newTraceAPI(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"` + traceCanaryAccess + `","expires_in":3600,"token_type":"bearer"}`))
	})
	e := newEngine(t, api.Server, traceConnector(api.Server))
	cl := mustClient(t, e, Connection{Credentials: map[string]any{"access_token": "expired", "refresh_token": traceCanaryRefresh}})
	if _, err := cl.Get(context.Background(), "/api"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api", "/token"} {
		for _, tp := range api.received(path) {
			if tp != "" {
				t.Errorf("%s received traceparent %q with tracing off", path, tp)
			}
		}
	}
}
