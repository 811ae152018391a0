package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

const renewOAuthConnector = `key: renewapi
name: Renew API
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/token
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

// serve renews in the background a stored connection nobody uses: its
// refresh token is spent once, with the connector parameters of
// --params-file, and the QuickBooks-style lifetime of the new one is
// recorded.
func TestServeRenewsInTheBackground(t *testing.T) {
	var refreshes, refused atomic.Int64
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		user, pass, basic := r.BasicAuth()
		if !basic {
			user, pass = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if r.URL.Path != "/token" || r.PostForm.Get("refresh_token") != "rt-old" || user != "cid" || pass != "csecret" || refreshes.Add(1) > 1 {
			refused.Add(1)
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Write([]byte(`{"access_token":"at-new","refresh_token":"rt-new","expires_in":3600,"x_refresh_token_expires_in":8726400}`))
	}))
	defer provider.Close()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "connectors"), 0o700)
	os.WriteFile(filepath.Join(dir, "connectors", "renewapi.yml"), []byte(strings.ReplaceAll(renewOAuthConnector, "{{URL}}", provider.URL)), 0o600)
	os.WriteFile(filepath.Join(dir, "params.yml"), []byte("renewapi: {clientId: cid, clientSecret: csecret}\n"), 0o600)
	key := bytes.Repeat([]byte{7}, 32)
	t.Setenv("CONNSPEC_API_KEY", "serve-admin-key")
	t.Setenv("CONNSPEC_SECRET_KEY", base64.StdEncoding.EncodeToString(key))

	// A connection whose access token expires in a minute.
	db := filepath.Join(dir, "c.db")
	cipher, _ := store.NewCipher(key)
	s, err := store.OpenSQLite(db, cipher)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	s.CompareAndSwap(ctx, "conn-1", 0, map[string]any{"access_token": "at-old", "refresh_token": "rt-old", "expires_at": exp.UTC().Format(time.RFC3339)})
	s.PutConnection(ctx, store.ConnectionInfo{ID: "conn-1", Connector: "renewapi"})
	s.SetState(ctx, "conn-1", store.State{Status: store.StatusConnected, NextRefresh: exp})
	s.Close()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logs := &lockedBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(sctx, serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + db, connectorsDir: filepath.Join(dir, "connectors"),
			paramsFile: filepath.Join(dir, "params.yml"), logFormat: "json", logLevel: "info", shutdownTimeout: 5 * time.Second,
			renewal: renewalFlags{renew: true, keepFresh: []string{"renewapi"}, ahead: 5 * time.Minute, rate: 10, concurrency: 2, interval: 50 * time.Millisecond}},
			logs, func(a string) { ready <- a })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve did not start: %v\n%s", err, logs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for refreshes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second renewal would show now
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	if refreshes.Load() != 1 || refused.Load() != 0 {
		t.Fatalf("%d refreshes, %d refused; want 1 and 0\n%s", refreshes.Load(), refused.Load(), logs)
	}
	s, err = store.OpenSQLite(db, cipher)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, err := s.Get(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Credentials["access_token"] != "at-new" || rec.State.RefreshExpiresAt.Before(time.Now().Add(100*24*time.Hour)) || rec.State.RenewBy.IsZero() {
		t.Errorf("after renewal: state %+v, access token %v", rec.State, rec.Credentials["access_token"])
	}
	if out := logs.String(); strings.Contains(out, "rt-new") || strings.Contains(out, "at-new") || strings.Contains(out, "csecret") {
		t.Errorf("a secret in the logs:\n%s", out)
	}
}

func TestServeRenewalFlagsRefuseNonsense(t *testing.T) {
	for _, bad := range []renewalFlags{
		{renew: true, rate: 0, concurrency: 1, ahead: time.Minute, interval: time.Second},
		{renew: true, rate: 1, concurrency: 0, ahead: time.Minute, interval: time.Second},
		{renew: true, rate: 1, concurrency: 1, ahead: 0, interval: time.Second},
	} {
		if bad.check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	for _, bad := range []string{"xero", "=60d", "xero=", "xero=-1h", "xero=sixty"} {
		if _, err := (&renewalFlags{idleLimits: []string{bad}}).inactivityLimits(); err == nil {
			t.Errorf("--renew-idle-limit %q accepted", bad)
		}
	}
	limits, err := (&renewalFlags{idleLimits: []string{"xero=60d", "other=90m"}}).inactivityLimits()
	if err != nil || limits["xero"] != 60*24*time.Hour || limits["other"] != 90*time.Minute {
		t.Errorf("limits %v, %v", limits, err)
	}
}
