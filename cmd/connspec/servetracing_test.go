package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const serveTraceQueryCanary = "qs_CNRYTRACE77"

func TestServeTracesToAnOTLPCollector(t *testing.T) {
	var mu sync.Mutex
	var exported [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.URL.Path == "/v1/traces" {
			exported = append(exported, body)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		mu.Unlock()
		if r.Header.Get("X-Api-Key") != serveCanary {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slowapi.yml"), []byte(strings.ReplaceAll(slowConnector, "{{URL}}", api.URL)), 0o600)
	t.Setenv("CONNSPEC_API_KEY", "serve-admin-key")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv("CONNSPEC_TRACING", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
	t.Setenv("OTEL_SERVICE_NAME", "connspec-under-test")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + filepath.Join(dir, "c.db"), connectorsDir: dir,
			keyFile: filepath.Join(dir, "unused.key"), logFormat: "json", logLevel: "info", shutdownTimeout: 10 * time.Second}, logs, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer serve-admin-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	status, body := call("POST", "/v1/connections", `{"connector":"slowapi","account":"a","input":{"apiKey":"`+serveCanary+`"}}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var conn struct{ ID string }
	json.Unmarshal([]byte(body), &conn)
	if status, body := call("GET", "/v1/proxy/"+conn.ID+"/me?token="+serveTraceQueryCanary, ""); status != 200 {
		t.Fatalf("proxy: %d %s", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "00-") {
		t.Errorf("the API received no traceparent: %q", seen)
	}
	all := string(bytes.Join(exported, nil))
	// One span per proxied request (the proxy span stands for the API request).
	for _, want := range []string{"proxy GET", "connspec-under-test", conn.ID} {
		if !strings.Contains(all, want) {
			t.Errorf("the collector did not receive %q (%d exports)", want, len(exported))
		}
	}
	for _, secret := range []string{serveCanary, "serve-admin-key", serveTraceQueryCanary} {
		if strings.Contains(all, secret) {
			t.Errorf("the exported spans hold %q", secret)
		}
	}
}

func TestServeRefusesAnUnknownTracingMode(t *testing.T) {
	_, err := newTracerProvider(context.Background(), "zipkin")
	if err == nil || !strings.Contains(err.Error(), `--tracing must be off or otlp, not "zipkin"`) {
		t.Fatalf("err %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if _, err := newTracerProvider(context.Background(), "otlp"); err == nil || !strings.Contains(err.Error(), "http/json") {
		t.Fatalf("err %v", err)
	}
}
