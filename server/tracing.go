package server

import (
	"net/http"

	"github.com/connspec/connspec/engine"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the server's spans.
const tracerName = "github.com/connspec/connspec/server"

// proxyRoute is the proxy's route, the span's http.route.
const proxyRoute = "/v1/proxy/{id}/{path...}"

// traceProxy wraps the proxy handler in a server span per request when
// Config.TracerProvider is set, continuing the caller's trace (its W3C
// traceparent). The span stands for the API request too
// (engine.WithRequestSpan): one span per proxied request, which the API
// receives as its traceparent's parent. The span's attributes are the
// method, the route pattern, the connection, its connector and the status:
// never the URL (its query may hold the caller's secrets) nor a header.
func (s *Server) traceProxy(next http.HandlerFunc) http.HandlerFunc {
	if s.tracer == nil {
		return next
	}
	var prop propagation.TraceContext
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := s.tracer.Start(ctx, "proxy "+r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", proxyRoute),
			attribute.String("connspec.connection", r.PathValue("id"))))
		defer span.End()
		// The status the instrument wrapper records, or our own record.
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next(sw, r.WithContext(engine.WithRequestSpan(ctx)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	}
}

// traceConnector names the connector on the proxy request's span.
func (s *Server) traceConnector(r *http.Request, connector string) {
	if s.tracer != nil {
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("connspec.connector", connector))
	}
}
