package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/internal/oauthtest"
	"github.com/connspec/connspec/server"
	"github.com/connspec/connspec/server/webhook"
)

// hookReceiver is a webhook endpoint on loopback that verifies each
// delivery with the Standard Webhooks library and keeps the bodies.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	events []webhook.Payload
	bad    int
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := v.Verify(body, r.Header); err != nil {
			h.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		json.Unmarshal(body, &p)
		h.bodies = append(h.bodies, string(body))
		h.events = append(h.events, p)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.Close)
	return h
}

// types returns the received event types in the order of their timestamps.
func (h *hookReceiver) types() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	evs := slices.Clone(h.events)
	slices.SortStableFunc(evs, func(a, b webhook.Payload) int { return a.Timestamp.Compare(b.Timestamp) })
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// tokenFront stands before the authorization server's token endpoint: it
// passes requests on, answers 503 (down) or refuses the refresh token.
type tokenFront struct {
	*httptest.Server
	mode atomic.Value // "", "down", "invalid_grant"
}

func newTokenFront(t *testing.T, tokenURL string) *tokenFront {
	u, _ := url.Parse(tokenURL)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	f := &tokenFront{}
	f.mode.Store("")
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f.mode.Load() {
		case "down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "invalid_grant":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"refresh token revoked"}`)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func webhookSecret(t *testing.T) string {
	k := make([]byte, 32)
	rand.Read(k)
	return "whsec_" + base64.StdEncoding.EncodeToString(k)
}

// TestEventsFromRealFlows makes each event type happen the way it happens
// in production (the connect page's OAuth flow, a provider down, a refresh
// token refused, a new authorization, a delete) and checks that a receiver
// gets each once, signed, without a secret.
func TestEventsFromRealFlows(t *testing.T) {
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			st, _ := sharedStores(t, kind, testCipher(t))
			eventsFromRealFlows(t, st)
		})
	}
}

func eventsFromRealFlows(t *testing.T, st server.Store) {
	srv := oauthtest.New(t, oauthtest.Options{ClientSecret: canaryClientSecret, RotateRefreshTokens: true, AccessTokenTTL: 2 * time.Second})
	front := newTokenFront(t, srv.TokenURL)
	connector := strings.ReplaceAll(oauthConnector(srv), srv.TokenURL, front.URL+"/token")
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": connector}, params: oauthParams, store: st})
	secret := webhookSecret(t)
	rcv := newHookReceiver(t, secret)
	d, err := webhook.New(st, webhook.Config{URLs: []string{rcv.URL + "/hooks?token=receiver-secret"}, Secret: secret, AllowPrivate: []string{"127.0.0.1"},
		Poll: 20 * time.Millisecond, Backoff: 50 * time.Millisecond, OnSend: e.Metrics.WebhookSent, OnGiveUp: e.Metrics.WebhookGivenUp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	await := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Equal(rcv.types(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("received %q, want %q", rcv.types(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var secrets []string
	keepSecrets := func(id string) {
		if rec, err := st.Get(context.Background(), id); err == nil {
			for _, k := range []string{"access_token", "refresh_token"} {
				if v, _ := rec.Credentials[k].(string); v != "" {
					secrets = append(secrets, v)
				}
			}
		}
	}

	// 1. The connect page's OAuth flow.
	link := e.connectLink(map[string]any{"connector": "oauthy", "account": "acc-o", "redirectUrl": "https://app.example/done"})
	c := browserLike(t)
	resp, _ := fetch(t, c, "POST", link, url.Values{"option": {""}})
	cb := srv.Authorize(t, resp.Header.Get("Location"))
	resp, _ = fetch(t, c, "GET", cb.String(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	id := loc.Query().Get("connection")
	if id == "" {
		t.Fatalf("callback: %d %s", resp.StatusCode, loc)
	}
	keepSecrets(id)
	await(store.EventCreated)

	// 2. The token endpoint is down when the access token is due.
	front.mode.Store("down")
	time.Sleep(2100 * time.Millisecond)
	readAll(t, e.proxy("GET", id, "api/me", nil, nil))
	readAll(t, e.proxy("GET", id, "api/me", nil, nil))
	await(store.EventCreated, store.EventRefreshFailed)

	// 3. The provider refuses the refresh token.
	front.mode.Store("invalid_grant")
	readAll(t, e.proxy("GET", id, "api/me", nil, nil))
	readAll(t, e.proxy("GET", id, "api/me", nil, nil))
	await(store.EventCreated, store.EventRefreshFailed, store.EventNeedsReauth)

	// 4. A new authorization of the same connection (engine overwrite).
	front.mode.Store("")
	info, err := st.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	conn := engine.Connection{ID: id, Connector: "oauthy", ConnectorParameters: oauthParams["oauthy"], ConnectionParameters: info.Input}
	redirect := e.URL + "/oauth/callback"
	ar, err := e.Engine.AuthorizationURL(context.Background(), conn, redirect)
	if err != nil {
		t.Fatal(err)
	}
	cb = srv.Authorize(t, ar.URL)
	if _, err := e.Engine.CompleteAuthorization(context.Background(), conn, cb.Query(), redirect, ar.State, ar.Verifier); err != nil {
		t.Fatal(err)
	}
	keepSecrets(id)
	await(store.EventCreated, store.EventRefreshFailed, store.EventNeedsReauth, store.EventReauthorized)
	if status, body := e.api("GET", "/v1/connections/"+id, nil); status != 200 || !strings.Contains(string(body), `"state": "connected"`) {
		t.Fatalf("after the new authorization: %d %s", status, body)
	}

	// 5. Deleted through the admin API.
	if status, body := e.api("DELETE", "/v1/connections/"+id, nil); status != 200 {
		t.Fatalf("delete: %d %s", status, body)
	}
	await(store.EventCreated, store.EventRefreshFailed, store.EventNeedsReauth, store.EventReauthorized, store.EventDeleted)

	rcv.mu.Lock()
	bodies, events, bad := slices.Clone(rcv.bodies), slices.Clone(rcv.events), rcv.bad
	rcv.mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d deliveries failed verification", bad)
	}
	ids := map[string]bool{}
	for _, p := range events {
		if ids[p.ID] {
			t.Fatalf("event %s delivered twice", p.ID)
		}
		ids[p.ID] = true
		if p.Data.ConnectionID != id || p.Data.Connector != "oauthy" || p.Data.Account != "acc-o" {
			t.Fatalf("payload data %+v", p.Data)
		}
		switch p.Type {
		case store.EventNeedsReauth:
			if p.Data.Status != store.StatusNeedsReauth || !strings.Contains(p.Data.Error, "invalid_grant") {
				t.Fatalf("needs_reauth payload %+v", p.Data)
			}
		case store.EventRefreshFailed:
			if p.Data.Status != store.StatusConnected || p.Data.Error == "" {
				t.Fatalf("refresh_failed payload %+v", p.Data)
			}
		}
	}
	// The admin API's view of the same events and their deliveries.
	// The receiver has them all; the last acknowledgement may be recorded a moment later.
	var list []byte
	for deadline := time.Now().Add(5 * time.Second); ; {
		var status int
		status, list = e.api("GET", "/v1/events", nil)
		if status == 200 && strings.Count(string(list), `"delivery": "delivered"`) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/events: %d %s", status, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := e.metricsText()
	for _, typ := range []string{store.EventCreated, store.EventRefreshFailed, store.EventNeedsReauth, store.EventReauthorized, store.EventDeleted} {
		if line := `connspec_webhook_sends_total{code="200",type="` + typ + `"} 1`; !strings.Contains(m, line) {
			t.Errorf("metrics lack %s:\n%s", line, grepLines(m, "connspec_webhook"))
		}
	}
	if strings.Contains(m, "receiver-secret") {
		t.Error("the metrics name the webhook URL's token")
	}
	status, log := e.api("GET", "/v1/events/"+events[0].ID+"/deliveries", nil)
	if status != 200 || !strings.Contains(string(log), `"statusCode": 200`) || strings.Contains(string(log), "receiver-secret") {
		t.Fatalf("deliveries: %d %s", status, log)
	}
	if len(secrets) < 2 {
		t.Fatalf("too few tokens kept to check for (%d)", len(secrets))
	}
	texts := append(bodies, string(list), string(log))
	for _, s := range append(secrets, canaryClientSecret) {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Fatalf("a secret %.6s… is in %s", s, text)
			}
		}
	}
	e.assertNoCanaries(texts...)
}
