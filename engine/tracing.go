package engine

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the engine's spans.
const tracerName = "github.com/connspec/connspec/engine"

// WithTracerProvider makes the engine record OpenTelemetry spans: one per
// credentials renewal (attribute connspec.renewal.outcome), one per method
// run, and one client span per HTTP request a connection sends (API and
// token requests, but one whose context says a span of the caller's stands
// for it: WithRequestSpan), which carries the W3C traceparent header to the
// API.
// Without it (the default) nothing is traced and nothing is added to
// requests. No span attribute holds a secret: no header, no query string,
// no URL path, no error text (providers echo credentials in it).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(e *Engine) {
		if tp != nil {
			e.tracer = tp.Tracer(tracerName)
		}
	}
}

// traceContext is the W3C Trace Context propagator (traceparent and
// tracestate): the engine sets it itself, so no global state is needed.
var traceContext propagation.TraceContext

// tracedTransport starts a client span per request and sends its context
// in the traceparent header. It is not otelhttp.NewTransport: otelhttp
// (v0.72.0) records url.full with the query string, where connectors put
// API keys.
type tracedTransport struct {
	tracer trace.Tracer
	next   http.RoundTripper
}

// traceWire wraps rt so its requests are traced; rt itself when tracing is
// off.
func (e *Engine) traceWire(rt http.RoundTripper) http.RoundTripper {
	if e.tracer == nil {
		return rt
	}
	return &tracedTransport{tracer: e.tracer, next: rt}
}

// spanCoversRequest marks a context whose current span already stands
// for the request sent with it (see WithRequestSpan).
type spanCoversRequest struct{}

// WithRequestSpan returns ctx marked so that the request sent with it
// gets no client span of its own: the span current in ctx stands for it
// and is the parent the traceparent header names. A proxy uses it to record
// one span per proxied request, as Envoy does: the API's own spans are that
// span's children. Requests sent under another span started later (a token
// request of a renewal the request sets off) still get client spans.
func WithRequestSpan(ctx context.Context) context.Context {
	return context.WithValue(ctx, spanCoversRequest{}, trace.SpanFromContext(ctx))
}

func (t *tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if covering, ok := req.Context().Value(spanCoversRequest{}).(trace.Span); ok && covering == trace.SpanFromContext(req.Context()) {
		return t.next.RoundTrip(withTraceparent(req, req.Context()))
	}
	ctx, span := t.tracer.Start(req.Context(), "HTTP "+req.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("server.address", req.URL.Hostname())))
	defer span.End()
	out := withTraceparent(req, ctx)
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		// The error's text may quote the URL (and its query): only the fact.
		span.SetStatus(codes.Error, "the request failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	return resp, nil
}

// withTraceparent is req under ctx with the traceparent of ctx's span, on
// a copy of its headers: a RoundTripper must not change the caller's request.
func withTraceparent(req *http.Request, ctx context.Context) *http.Request {
	out := req.WithContext(ctx)
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	traceContext.Inject(ctx, propagation.HeaderCarrier(out.Header))
	return out
}

// Renewal outcomes, the value of the span attribute
// connspec.renewal.outcome.
const (
	renewalRenewed     = "renewed"
	renewalNeedsReauth = "needs_reauth"
	renewalFailed      = "failed"
)

// startRenewal starts the span of one renewal of cl's credentials; end
// records its outcome. Both are no-ops when tracing is off.
func (cl *Client) startRenewal(ctx context.Context) (context.Context, func(error)) {
	tr := cl.eng.tracer
	if tr == nil {
		return ctx, func(error) {}
	}
	ctx, span := tr.Start(ctx, "connspec.renewal", trace.WithAttributes(
		attribute.String("connspec.connector", cl.connector.Spec.Key),
		attribute.String("connspec.connection", cl.conn.ID)))
	return ctx, func(err error) {
		outcome := renewalRenewed
		switch {
		case errors.Is(err, ErrConnectionIsDefunct):
			outcome = renewalNeedsReauth
		case err != nil:
			outcome = renewalFailed
		}
		span.SetAttributes(attribute.String("connspec.renewal.outcome", outcome))
		if err != nil {
			span.SetStatus(codes.Error, outcome) // never err's text
		}
		span.End()
	}
}

// startMethod starts the span of one method run; end closes it. No-ops
// when tracing is off.
func (e *Engine) startMethod(ctx context.Context, m *Method) (context.Context, func(error)) {
	if e.tracer == nil {
		return ctx, func(error) {}
	}
	name := ""
	if m.Spec != nil {
		name = m.Spec.Name
	}
	ctx, span := e.tracer.Start(ctx, "connspec.method "+name, trace.WithAttributes(attribute.String("connspec.method", name)))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "the method failed") // its text may quote secrets
		}
		span.End()
	}
}
