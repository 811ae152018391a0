package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Tracing modes of serve's --tracing flag (or CONNSPEC_TRACING).
const (
	tracingOff  = "off"
	tracingOTLP = "otlp"
)

// newTracerProvider returns the tracer provider of mode: nil for off; for
// otlp, spans batched to an OTLP exporter configured by the standard
// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, TLS, timeout; protocol
// http/protobuf, the default, or grpc), sampled per OTEL_TRACES_SAMPLER,
// the service named by OTEL_SERVICE_NAME (default connspec) and
// OTEL_RESOURCE_ATTRIBUTES. The exporter connects lazily: an unreachable
// collector loses spans, never requests.
func newTracerProvider(ctx context.Context, mode string) (*sdktrace.TracerProvider, error) {
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "", tracingOff:
		return nil, nil
	case tracingOTLP:
	default:
		return nil, usageErrorf("--tracing must be off or otlp, not %q", mode)
	}
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, usageErrorf("OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc, not %q", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	// service.name first: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// (WithFromEnv, later) override it.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "connspec")),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, usageErrorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %v", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
