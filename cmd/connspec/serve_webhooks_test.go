package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestServeRefusesBadWebhookSettings(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", "serve-admin-key")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	for _, tc := range []struct {
		secret string
		args   []string
		want   string
	}{
		{"", []string{"--webhook-url", "https://hooks.example/x"}, "CONNSPEC_WEBHOOK_SECRET"},
		{"not-whsec-" + serveCanary, []string{"--webhook-url", "https://hooks.example/x"}, "whsec_"},
		{"whsec_" + serveCanary + "!", []string{"--webhook-url", "https://hooks.example/x"}, "not whsec_ followed by base64"},
		{"whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), []string{"--webhook-url", "ftp://hooks.example/x"}, "not an absolute http(s) URL"},
	} {
		t.Setenv("CONNSPEC_WEBHOOK_SECRET", tc.secret)
		var stderr bytes.Buffer
		code := run(append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, tc.args...), io.Discard, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q %v: exit %d: %s", tc.secret, tc.args, code, stderr.String())
		}
		if strings.Contains(stderr.String(), serveCanary) {
			t.Errorf("the secret is in the error: %s", stderr.String())
		}
	}
}

// serve delivers a connection.created event to --webhook-url, signed with
// CONNSPEC_WEBHOOK_SECRET; CONNSPEC_WEBHOOK_URLS works as well.
func TestServeDeliversEventsToWebhooks(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	verifier, _ := standardwebhooks.NewWebhook(secret)
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if verifier.Verify(body, r.Header) != nil {
			w.WriteHeader(401)
			return
		}
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
	}))
	defer rcv.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) }))
	defer api.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slowapi.yml"), []byte(strings.ReplaceAll(slowConnector, "{{URL}}", api.URL)), 0o600)
	t.Setenv("CONNSPEC_API_KEY", "serve-admin-key")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv("CONNSPEC_WEBHOOK_SECRET", secret)
	t.Setenv("CONNSPEC_WEBHOOK_URLS", rcv.URL+"/a, "+rcv.URL+"/b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		f := serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + filepath.Join(dir, "c.db"), connectorsDir: dir, keyFile: filepath.Join(dir, "unused.key"),
			logFormat: "json", logLevel: "debug", shutdownTimeout: 10 * time.Second}
		f.webhooks = webhookFlags{allowPrivate: []string{"127.0.0.1"}, maxAttempts: 12, maxAge: time.Hour, retention: time.Hour}
		done <- runServe(ctx, f, logs, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	req, _ := http.NewRequest("POST", base+"/v1/connections", strings.NewReader(`{"connector":"slowapi","account":"a","input":{"apiKey":"`+serveCanary+`"}}`))
	req.Header.Set("Authorization", "Bearer serve-admin-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries, want 2 (one per URL)\n%s", n, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	for _, b := range got {
		if !strings.Contains(b, `"type":"connection.created"`) || strings.Contains(b, serveCanary) {
			t.Errorf("delivery %s", b)
		}
	}
	if strings.Contains(logs.String(), serveCanary) || strings.Contains(logs.String(), strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("a secret is in the logs")
	}
}
