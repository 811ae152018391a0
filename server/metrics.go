package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connspec/connspec/engine"
)

// Metrics are the server's Prometheus figures. Labels are route patterns,
// status codes and connector keys: never connection input or credentials.
type Metrics struct {
	registry        *prometheus.Registry
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	proxied         *prometheus.CounterVec
	refreshes       *prometheus.CounterVec
	refreshFailures *prometheus.CounterVec
	refreshLatency  *prometheus.HistogramVec
	webhookSends    *prometheus.CounterVec
	webhookLatency  *prometheus.HistogramVec
	webhookGivenUp  *prometheus.CounterVec
}

// NewMetrics returns a fresh set of metrics in their own registry, with the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connspec_http_requests_total", Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "connspec_http_request_duration_seconds", Help: "Time to serve a request, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		proxied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connspec_proxy_requests_total", Help: "Requests forwarded by the proxy, by connector and upstream status code (\"error\" when none came).",
		}, []string{"connector", "code"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connspec_refreshes_total", Help: "Credential renewals (token requests, refreshCredentials) made by this process, by connector.",
		}, []string{"connector"}),
		refreshFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connspec_refresh_failures_total", Help: "Credential renewals that failed, by connector.",
		}, []string{"connector"}),
		refreshLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "connspec_refresh_duration_seconds", Help: "Time a credential renewal took, by connector.",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector"}),
		webhookSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connspec_webhook_sends_total", Help: "Webhook deliveries sent by this process, by event type and the receiver's status code (\"error\" when no answer came).",
		}, []string{"type", "code"}),
		webhookLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "connspec_webhook_send_duration_seconds", Help: "Time a webhook delivery took, answer included, by event type.",
			Buckets: prometheus.DefBuckets,
		}, []string{"type"}),
		webhookGivenUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connspec_webhook_events_failed_total", Help: "Events this process marked failed after their last delivery round (webhook-max-attempts or webhook-max-age), by event type.",
		}, []string{"type"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.proxied, m.refreshes, m.refreshFailures, m.refreshLatency,
		m.webhookSends, m.webhookLatency, m.webhookGivenUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RefreshHook is the engine hook that counts renewals; pass it to
// engine.WithRefreshHook.
func (m *Metrics) RefreshHook() engine.RefreshHook {
	return func(conn engine.Connection, took time.Duration, err error) {
		m.refreshes.WithLabelValues(conn.Connector).Inc()
		m.refreshLatency.WithLabelValues(conn.Connector).Observe(took.Seconds())
		if err != nil {
			m.refreshFailures.WithLabelValues(conn.Connector).Inc()
		}
	}
}

// WebhookSent counts one webhook delivery; it is a webhook.Config.OnSend.
func (m *Metrics) WebhookSent(eventType string, status int, took time.Duration) {
	m.webhookSends.WithLabelValues(eventType, codeLabel(status)).Inc()
	m.webhookLatency.WithLabelValues(eventType).Observe(took.Seconds())
}

// WebhookGivenUp counts an event marked failed; it is a
// webhook.Config.OnGiveUp.
func (m *Metrics) WebhookGivenUp(eventType string) {
	m.webhookGivenUp.WithLabelValues(eventType).Inc()
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

func (m *Metrics) observeRequest(route string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
}

func (m *Metrics) observeProxy(connector string, status int) {
	m.proxied.WithLabelValues(connector, codeLabel(status)).Inc()
}

// codeLabel is the code label of an answer's status, "error" when no
// answer came (status 0).
func codeLabel(status int) string {
	if status <= 0 {
		return "error"
	}
	return strconv.Itoa(status)
}
