package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connspec/connspec/engine/store"
)

func newSecret(t *testing.T) string {
	k := make([]byte, 32)
	rand.Read(k)
	return "whsec_" + base64.StdEncoding.EncodeToString(k)
}

// receiver is a webhook endpoint on loopback that checks every delivery's
// signature with the Standard Webhooks library and counts ids.
type receiver struct {
	*httptest.Server
	t        *testing.T
	verifier *standardwebhooks.Webhook
	down     atomic.Bool
	onBody   func(p Payload) // runs before the answer
	mu       sync.Mutex
	seen     map[string]int
	payloads []Payload
	bad      int
}

func newReceiver(t *testing.T, secret string) *receiver {
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, verifier: v, seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(req.Body)
		if err := r.verifier.Verify(body, req.Header); err != nil {
			r.mu.Lock()
			r.bad++
			r.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p Payload
		if err := json.Unmarshal(body, &p); err != nil || p.ID != req.Header.Get("webhook-id") {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.seen[p.ID]++
		r.payloads = append(r.payloads, p)
		r.mu.Unlock()
		if r.onBody != nil {
			r.onBody(p)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) counts() (ids int, deliveries int, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		deliveries += n
	}
	return len(r.seen), deliveries, r.bad
}

func testConfig(secret string, urls ...string) Config {
	return Config{URLs: urls, Secret: secret, AllowPrivate: []string{"127.0.0.1"}, Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Poll: 10 * time.Millisecond, Timeout: 2 * time.Second}
}

func addConnections(t *testing.T, cat store.Catalog, n int, prefix string) {
	for i := range n {
		if err := cat.PutConnection(context.Background(), store.ConnectionInfo{ID: fmt.Sprintf("%s%d", prefix, i), Connector: "acme", Account: "acct"}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeliversSignedEvents(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	st := store.NewMemory()
	addConnections(t, st, 3, "c")
	d, err := New(st, testConfig(secret, rcv.URL+"/hooks?token=receiver-token"))
	if err != nil {
		t.Fatal(err)
	}
	if n := d.RunOnce(context.Background()); n != 3 {
		t.Fatalf("RunOnce claimed %d events, want 3", n)
	}
	if ids, deliveries, bad := rcv.counts(); ids != 3 || deliveries != 3 || bad != 0 {
		t.Fatalf("receiver: %d ids, %d deliveries, %d bad signatures", ids, deliveries, bad)
	}
	p := rcv.payloads[0]
	if p.Type != store.EventCreated || p.Data.Connector != "acme" || p.Data.Account != "acct" || p.Data.Status != store.StatusConnected || p.Timestamp.IsZero() {
		t.Fatalf("payload %+v", p)
	}
	events, _ := st.ListEvents(context.Background(), 10)
	for _, e := range events {
		if e.Delivery != store.DeliveryDelivered || e.Attempts != 1 {
			t.Fatalf("event after delivery: %+v", e)
		}
		att, _ := st.Attempts(context.Background(), e.ID)
		if len(att) != 1 || att[0].StatusCode != http.StatusNoContent {
			t.Fatalf("attempts: %+v", att)
		}
		if strings.Contains(att[0].URL, "receiver-token") || !strings.HasPrefix(att[0].URL, rcv.URL+"/… #") {
			t.Fatalf("the delivery log names the URL %q: the receiver's token must not be stored", att[0].URL)
		}
	}
	if d.RunOnce(context.Background()) != 0 {
		t.Fatal("a delivered event was claimed again")
	}
	// Redelivered on request: the same id once more.
	if err := st.RedeliverEvent(context.Background(), events[0].ID); err != nil {
		t.Fatal(err)
	}
	if d.RunOnce(context.Background()) != 1 || rcv.seen[events[0].ID] != 2 {
		t.Fatalf("a redelivered event was not sent again: %v", rcv.seen)
	}
}

func TestWrongSecretIsRejectedByTheReceiver(t *testing.T) {
	rcv := newReceiver(t, newSecret(t))
	st := store.NewMemory()
	addConnections(t, st, 1, "c")
	cfg := testConfig(newSecret(t), rcv.URL)
	d, err := New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.RunOnce(context.Background())
	if ids, _, bad := rcv.counts(); ids != 0 || bad != 1 {
		t.Fatalf("a delivery signed with another secret was accepted (%d ids, %d refused)", ids, bad)
	}
	events, _ := st.ListEvents(context.Background(), 1)
	if events[0].Delivery != store.DeliveryPending || events[0].Attempts != 1 {
		t.Fatalf("a refused delivery: %+v", events[0])
	}
}

func TestReceiverDownThenUp(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	rcv.down.Store(true)
	st := store.NewMemory()
	addConnections(t, st, 4, "c")
	d, err := New(st, testConfig(secret, rcv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	waitFor(t, "three failed rounds", func() bool {
		e, _ := st.ListEvents(ctx, 1)
		return e[0].Attempts >= 3
	})
	rcv.down.Store(false)
	waitFor(t, "every event delivered", func() bool {
		events, _ := st.ListEvents(ctx, 10)
		for _, e := range events {
			if e.Delivery != store.DeliveryDelivered {
				return false
			}
		}
		return true
	})
	cancel()
	events, _ := st.ListEvents(context.Background(), 10)
	for _, e := range events {
		att, _ := st.Attempts(context.Background(), e.ID)
		if e.Delivery != store.DeliveryDelivered || len(att) < 2 || att[0].StatusCode != 503 || att[0].Error != "HTTP 503" {
			t.Fatalf("event %+v attempts %+v", e, att)
		}
	}
	if _, deliveries, _ := rcv.counts(); deliveries != 4 {
		t.Fatalf("%d deliveries of 4 events", deliveries)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	rcv.down.Store(true)
	st := store.NewMemory()
	addConnections(t, st, 1, "c")
	cfg := testConfig(secret, rcv.URL)
	cfg.MaxAttempts = 3
	var mu sync.Mutex
	var sends []int
	var givenUp []string
	cfg.OnSend = func(typ string, status int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if typ == store.EventCreated && took > 0 {
			sends = append(sends, status)
		}
	}
	cfg.OnGiveUp = func(typ string) { mu.Lock(); givenUp = append(givenUp, typ); mu.Unlock() }
	d, _ := New(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	waitFor(t, "the event marked failed", func() bool {
		e, _ := st.ListEvents(ctx, 1)
		mu.Lock()
		defer mu.Unlock()
		return e[0].Delivery == store.DeliveryFailed && len(givenUp) > 0
	})
	e, _ := st.ListEvents(ctx, 1)
	if e[0].Attempts != 3 {
		t.Fatalf("failed after %d rounds, want 3", e[0].Attempts)
	}
	// What the metrics are told: three sends answered 503, one event given up.
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sends, []int{503, 503, 503}) || !slices.Equal(givenUp, []string{store.EventCreated}) {
		t.Fatalf("OnSend saw %v, OnGiveUp %v", sends, givenUp)
	}
}

// Two servers on one store deliver each event once.
func exactlyOnce(t *testing.T, a, b store.Outbox, cat store.Catalog) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	const n = 60
	addConnections(t, cat, n, "c")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, o := range []store.Outbox{a, b} {
		d, err := New(o, testConfig(secret, rcv.URL))
		if err != nil {
			t.Fatal(err)
		}
		go d.Run(ctx)
	}
	waitFor(t, "every event delivered", func() bool {
		ids, _, _ := rcv.counts()
		return ids == n
	})
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show
	if ids, deliveries, bad := rcv.counts(); ids != n || deliveries != n || bad != 0 {
		t.Fatalf("%d events: %d ids, %d deliveries, %d bad", n, ids, deliveries, bad)
	}
}

func TestTwoServersOneSQLiteFileDeliverOnce(t *testing.T) {
	c, _ := store.NewCipher(make([]byte, store.KeySize))
	path := filepath.Join(t.TempDir(), "connspec.db")
	a, err := store.OpenSQLite(path, c)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.OpenSQLite(path, c)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	exactlyOnce(t, a, b, a)
}

func TestTwoServersOnePostgresDeliverOnce(t *testing.T) {
	url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set (.ci/postgres.sh starts a server)")
	}
	a, b := openPostgresPair(t, url)
	exactlyOnce(t, a, b, a)
}

// A server killed after the receiver got an event, before it recorded the
// answer: another server sends it again, with the same webhook-id.
func TestKilledMidDeliveryRedeliversSameID(t *testing.T) {
	t.Run("memory", func(t *testing.T) { killedMidDelivery(t, store.NewMemory()) })
	t.Run("sqlite", func(t *testing.T) {
		c, _ := store.NewCipher(make([]byte, store.KeySize))
		s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "connspec.db"), c)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		killedMidDelivery(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
		if url == "" {
			t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set (.ci/postgres.sh starts a server)")
		}
		a, _ := openPostgresPair(t, url)
		killedMidDelivery(t, a)
	})
}

type outboxCatalog interface {
	store.Outbox
	store.Catalog
}

func killedMidDelivery(t *testing.T, st outboxCatalog) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	addConnections(t, st, 1, "c")
	ctx, kill := context.WithCancel(context.Background())
	rcv.onBody = func(Payload) { kill() }
	cfg := testConfig(secret, rcv.URL)
	cfg.Lease, cfg.Timeout, cfg.StoreWait = 300*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	first, _ := New(st, cfg)
	first.RunOnce(ctx)
	rcv.onBody = nil
	events, _ := st.ListEvents(context.Background(), 1)
	if e := events[0]; e.Delivery != store.DeliveryPending || e.Attempts != 0 {
		t.Fatalf("the killed server recorded its delivery: %+v", e)
	}
	second, _ := New(st, cfg)
	if second.RunOnce(context.Background()) != 0 {
		t.Fatal("an event was claimed while another server's lease held")
	}
	time.Sleep(cfg.Lease + 50*time.Millisecond)
	if second.RunOnce(context.Background()) != 1 {
		t.Fatal("the event was not claimed again after the lease ended")
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.payloads) != 2 || rcv.payloads[0].ID != rcv.payloads[1].ID || rcv.seen[events[0].ID] != 2 {
		t.Fatalf("deliveries %+v, want the same id twice", rcv.payloads)
	}
	e, _ := st.GetEvent(context.Background(), events[0].ID)
	if e.Delivery != store.DeliveryDelivered {
		t.Fatalf("after redelivery: %+v", e)
	}
}

func TestPrivateAddressesAreRefusedByDefault(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	port := rcv.URL[strings.LastIndex(rcv.URL, ":")+1:]
	for _, target := range []string{
		rcv.URL,                        // 127.0.0.1
		"http://localhost:" + port,     // a name that resolves to loopback
		"http://169.254.169.254/hooks", // cloud metadata
		"http://10.1.2.3/hooks",
		"http://100.100.100.200/hooks", // CGNAT (a cloud's metadata)
		"http://[::1]:" + port,
		"http://[::ffff:127.0.0.1]:" + port,
		"http://[fe80::1%25lo]:" + port, // a zoned link-local address
		"http://[2002:a00:1::1]/hooks",  // 6to4 of 10.0.0.1
	} {
		st := store.NewMemory()
		addConnections(t, st, 1, "c")
		cfg := testConfig(secret, target)
		cfg.AllowPrivate = nil
		d, err := New(st, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d.RunOnce(context.Background())
		events, _ := st.ListEvents(context.Background(), 1)
		att, _ := st.Attempts(context.Background(), events[0].ID)
		if len(att) != 1 || att[0].StatusCode != 0 || !strings.Contains(att[0].Error, "refused: ") {
			t.Fatalf("%s: attempts %+v", target, att)
		}
	}
	if ids, _, _ := rcv.counts(); ids != 0 {
		t.Fatalf("the loopback receiver got %d events", ids)
	}
	// Allowed by name: the name, not what it resolves to, is listed.
	st := store.NewMemory()
	addConnections(t, st, 1, "c")
	cfg := testConfig(secret, "http://localhost:"+port)
	cfg.AllowPrivate = []string{"localhost"}
	d, _ := New(st, cfg)
	d.RunOnce(context.Background())
	if ids, _, _ := rcv.counts(); ids != 1 {
		t.Fatal("an allowed private host was refused")
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	redirect := httptest.NewServer(http.RedirectHandler(rcv.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	st := store.NewMemory()
	addConnections(t, st, 1, "c")
	d, _ := New(st, testConfig(secret, redirect.URL))
	d.RunOnce(context.Background())
	events, _ := st.ListEvents(context.Background(), 1)
	att, _ := st.Attempts(context.Background(), events[0].ID)
	if ids, _, _ := rcv.counts(); ids != 0 || len(att) != 1 || att[0].StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("a redirect was followed: %d ids, attempts %+v", ids, att)
	}
}

func TestConfigRefusals(t *testing.T) {
	st := store.NewMemory()
	good := newSecret(t)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Secret: good}, "no webhook URL"},
		{Config{URLs: []string{"ftp://x"}, Secret: good}, "not an absolute http(s) URL"},
		{Config{URLs: []string{"https://user:pw@hooks.example/x"}, Secret: good}, "user info"},
		{Config{URLs: []string{"https://hooks.example/x"}, Secret: "plain-CANARY-secret"}, "whsec_"},
		{Config{URLs: []string{"https://hooks.example/x"}, Secret: "whsec_!!CANARY"}, "not whsec_ followed by base64"},
		{Config{URLs: []string{"https://hooks.example/x"}, Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))}, "shorter than 24 bytes"},
		{Config{URLs: []string{"https://hooks.example/x"}, Secret: good, AllowPrivate: []string{"10.0.0.0/99"}}, "not an IP prefix"},
	} {
		_, err := New(st, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg.URLs, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "pw@")) {
			t.Errorf("an error shows a secret: %v", err)
		}
	}
}

// stallingOutbox is a store that pauses the server using it once, at its
// first read of a delivery log or its first record of an attempt, until
// released: as when SQLite's one writer is busy.
type stallingOutbox struct {
	outboxCatalog
	at      string        // "Attempts" or "RecordAttempt"
	stalled chan struct{} // closed when the stall begins
	release chan struct{}
	once    sync.Once
}

func (s *stallingOutbox) stall(at string) {
	if at == s.at {
		s.once.Do(func() {
			close(s.stalled)
			<-s.release
		})
	}
}

func (s *stallingOutbox) Attempts(ctx context.Context, id string) ([]store.Attempt, error) {
	s.stall("Attempts")
	return s.outboxCatalog.Attempts(ctx, id)
}

func (s *stallingOutbox) RecordAttempt(ctx context.Context, id string, a store.Attempt) error {
	s.stall("RecordAttempt")
	return s.outboxCatalog.RecordAttempt(ctx, id, a)
}

// A server whose store is slow never makes another server send an event
// it sent, nor sends one another server has taken over (the soak saw ids
// received twice on SQLite before):
//   - slow to record a delivery's answer: its lease (at least Timeout +
//     StoreWait from the send) still holds, so the other server cannot claim
//     the event;
//   - paused long enough after its claim for the lease to lapse and the
//     other server to claim and start sending: it renews its lease before
//     sending, finds it lost, and does not send.
func TestSlowStoreSendsEachEventOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) outboxCatalog
	}{
		{"memory", func(*testing.T) outboxCatalog { return store.NewMemory() }},
		{"sqlite", func(t *testing.T) outboxCatalog {
			c, _ := store.NewCipher(make([]byte, store.KeySize))
			s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "connspec.db"), c)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) outboxCatalog {
			url := os.Getenv("CONNSPEC_TEST_POSTGRES_URL")
			if url == "" {
				t.Skip("CONNSPEC_TEST_POSTGRES_URL is not set (.ci/postgres.sh starts a server)")
			}
			a, _ := openPostgresPair(t, url)
			return a
		}},
	} {
		setup := func(t *testing.T, at string) (*stallingOutbox, *receiver, Config) {
			st := tc.open(t)
			secret := newSecret(t)
			rcv := newReceiver(t, secret)
			addConnections(t, st, 1, "c")
			cfg := testConfig(secret, rcv.URL)
			cfg.Lease, cfg.Timeout, cfg.StoreWait = 100*time.Millisecond, 50*time.Millisecond, 700*time.Millisecond
			return &stallingOutbox{outboxCatalog: st, at: at, stalled: make(chan struct{}), release: make(chan struct{})}, rcv, cfg
		}
		deliveredOnce := func(t *testing.T, st outboxCatalog, rcv *receiver) {
			t.Helper()
			if ids, deliveries, bad := rcv.counts(); ids != 1 || deliveries != 1 || bad != 0 {
				t.Fatalf("%d ids, %d deliveries, %d bad signatures: want the event delivered once", ids, deliveries, bad)
			}
			events, _ := st.ListEvents(context.Background(), 1)
			if e := events[0]; e.Delivery != store.DeliveryDelivered {
				t.Fatalf("event after both servers: %+v", e)
			}
		}
		t.Run(tc.name+"/slow-record", func(t *testing.T) {
			slow, rcv, cfg := setup(t, "RecordAttempt")
			first, _ := New(slow, cfg)
			second, _ := New(slow.outboxCatalog, cfg)
			done := make(chan int)
			go func() { done <- first.RunOnce(context.Background()) }()
			<-slow.stalled // sent; the answer not yet recorded
			time.Sleep(300 * time.Millisecond)
			if n := second.RunOnce(context.Background()); n != 0 {
				t.Errorf("the other server claimed %d events while the answer of a send was being recorded", n)
			}
			close(slow.release)
			<-done
			deliveredOnce(t, slow.outboxCatalog, rcv)
		})
		t.Run(tc.name+"/lease-lost-before-send", func(t *testing.T) {
			slow, rcv, cfg := setup(t, "Attempts")
			cfg.StoreWait = time.Millisecond // the lease is 100 ms
			first, _ := New(slow, cfg)
			second, _ := New(slow.outboxCatalog, cfg)
			firstDone := make(chan int)
			go func() { firstDone <- first.RunOnce(context.Background()) }()
			<-slow.stalled
			time.Sleep(cfg.Lease + 50*time.Millisecond)
			// The other server claims the event and sends it; its receiver
			// holds that request until the first server has finished.
			var once sync.Once
			inFlight, finish := make(chan struct{}), make(chan struct{})
			rcv.onBody = func(Payload) { once.Do(func() { close(inFlight); <-finish }) }
			secondDone := make(chan int)
			go func() { secondDone <- second.RunOnce(context.Background()) }()
			<-inFlight
			close(slow.release)
			<-firstDone
			close(finish)
			if n := <-secondDone; n != 1 {
				t.Fatalf("the other server claimed %d events after the lease ran out, want 1", n)
			}
			deliveredOnce(t, slow.outboxCatalog, rcv)
		})
	}
}
