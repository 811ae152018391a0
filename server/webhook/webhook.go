// Package webhook delivers the connection events of a store's outbox to
// webhook URLs, signed per the Standard Webhooks specification (webhook-id,
// webhook-timestamp, webhook-signature), retried with exponential backoff
// and jitter, once per event across every server sharing the store.
//
// Delivery is at least once on the wire and once per id: a server that dies
// after the receiver got an event but before it recorded the answer leaves
// the event leased; when the lease ends another server (or the same one,
// restarted) sends it again with the same webhook-id, which receivers use to
// drop the duplicate. A live server renews its lease before each send, so
// it never sends an event another server has taken over.
package webhook

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connspec/connspec/engine/store"
)

// Config configures a Dispatcher.
type Config struct {
	// URLs receive every event (http or https).
	URLs []string
	// Secret signs deliveries: Standard Webhooks form, "whsec_" and the
	// base64 of the key.
	Secret string
	// AllowPrivate lists hosts (names or IP addresses, as in the URLs) and
	// IP prefixes ("10.1.0.0/16") a webhook may reach although they are
	// private, loopback, link-local or CGNAT addresses; by default those are
	// refused, checked on the address the connection dials.
	AllowPrivate []string
	// MaxAttempts bounds the delivery rounds of an event (default 12), and
	// MaxAge its age (default 24 hours): past either it is marked failed.
	MaxAttempts int
	MaxAge      time.Duration
	// Backoff is the first retry's delay (default 10 seconds), doubled each
	// round up to MaxBackoff (default 1 hour), each drawn in [d/2, d).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one request (default 10 seconds).
	Timeout time.Duration
	// Lease is how long a claimed event stays with this server before
	// another may take it over (default 2 minutes, at least Timeout +
	// StoreWait). It is renewed before every send, so each send has a whole
	// lease to be answered and recorded in.
	Lease time.Duration
	// StoreWait is the longest a store write may wait before it fails
	// (default 15 seconds: SQLite waits up to 10 for its write lock). A
	// delivery's answer is recorded within Timeout + StoreWait of its
	// send, before its lease ends and another server could send it again.
	StoreWait time.Duration
	// Poll is how often the outbox is read for due events (default 1 second).
	Poll time.Duration
	// Retention: events older than this are pruned (default 7 days).
	Retention time.Duration
	Logger    *slog.Logger
	// OnSend, when set, is told of every send: the event's type, the
	// receiver's status code (0 when no answer came) and how long it took.
	OnSend func(eventType string, status int, took time.Duration)
	// OnGiveUp, when set, is told of every event marked failed.
	OnGiveUp func(eventType string)
}

// Dispatcher delivers an outbox's events; Run does the work.
type Dispatcher struct {
	outbox store.Outbox
	cfg    Config
	signer *standardwebhooks.Webhook
	client *http.Client
	owner  string
	log    *slog.Logger
}

// Payload is the body of a delivery.
type Payload struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      store.EventData `json:"data"`
}

// NewPayload is what an event is sent as.
func NewPayload(e store.Event) Payload {
	return Payload{ID: e.ID, Type: e.Type, Timestamp: e.Time.UTC(), Data: e.Data}
}

// New checks cfg and returns a dispatcher for outbox.
func New(outbox store.Outbox, cfg Config) (*Dispatcher, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("webhook: no webhook URL is configured")
	}
	for _, raw := range cfg.URLs {
		if err := checkURL(raw); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(cfg.Secret, "whsec_") {
		return nil, errors.New("webhook: the signing secret (CONNSPEC_WEBHOOK_SECRET) must be in Standard Webhooks form: whsec_ followed by the base64 of at least 24 random bytes")
	}
	signer, err := standardwebhooks.NewWebhook(cfg.Secret)
	if err != nil {
		// The library's error may quote the secret's decoding: not shown.
		return nil, errors.New("webhook: the signing secret (CONNSPEC_WEBHOOK_SECRET) is not whsec_ followed by base64")
	}
	if key, _ := decodeSecret(cfg.Secret); len(key) < 24 {
		return nil, errors.New("webhook: the signing secret (CONNSPEC_WEBHOOK_SECRET) is shorter than 24 bytes")
	}
	guard, err := newDialGuard(cfg.AllowPrivate)
	if err != nil {
		return nil, err
	}
	setDefault(&cfg.MaxAttempts, 12)
	setDefault(&cfg.MaxAge, 24*time.Hour)
	setDefault(&cfg.Backoff, 10*time.Second)
	setDefault(&cfg.MaxBackoff, time.Hour)
	setDefault(&cfg.Timeout, 10*time.Second)
	setDefault(&cfg.Lease, 2*time.Minute)
	setDefault(&cfg.StoreWait, 15*time.Second)
	cfg.Lease = max(cfg.Lease, cfg.Timeout+cfg.StoreWait)
	setDefault(&cfg.Poll, time.Second)
	setDefault(&cfg.Retention, 7*24*time.Hour)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	owner := make([]byte, 12)
	crand.Read(owner)
	return &Dispatcher{
		outbox: outbox, cfg: cfg, signer: signer, owner: hex.EncodeToString(owner), log: cfg.Logger,
		client: &http.Client{
			Transport: guard.transport(),
			Timeout:   cfg.Timeout,
			// A redirect could lead anywhere: it counts as a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// checkURL refuses what is not an absolute http(s) URL without user info.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: %q is not an absolute http(s) URL", RedactURL(raw))
	}
	if u.User != nil {
		return fmt.Errorf("webhook: the URL %s carries user info: put no credentials in a webhook URL", RedactURL(raw))
	}
	return nil
}

// Target is how a delivery log names a webhook URL: its scheme and host,
// and a digest of the whole URL to tell URLs of one host apart. The path or
// query may hold the receiver's token: neither the store nor the admin API
// keeps it.
func Target(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return RedactURL(raw) + " #" + hex.EncodeToString(sum[:4])
}

// RedactURL keeps the scheme and host of a URL: its path or query may
// hold a receiver's token.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Run delivers due events until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	var lastPrune time.Time
	for {
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if n, err := d.outbox.PruneEvents(ctx, time.Now().Add(-d.cfg.Retention)); err != nil && ctx.Err() == nil {
				d.log.Warn("pruning old events failed", "error", err.Error())
			} else if n > 0 {
				d.log.Info("pruned old events", "count", n)
			}
		}
		for d.RunOnce(ctx) > 0 {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims the due events (up to a batch) and delivers them; it
// returns how many it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) int {
	events, err := d.outbox.ClaimEvents(ctx, d.owner, time.Now(), d.cfg.Lease, 16)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("claiming events failed", "error", err.Error())
		}
		return 0
	}
	var wg sync.WaitGroup
	for _, e := range events {
		wg.Go(func() { d.deliver(ctx, e) })
	}
	wg.Wait()
	return len(events)
}

// deliver sends e to the URLs that have not answered 2xx to it yet, then
// records the round's outcome. When ctx ends (the server stops) nothing
// more is recorded: the lease runs out and the event is sent again.
func (d *Dispatcher) deliver(ctx context.Context, e store.Event) {
	past, err := d.outbox.Attempts(ctx, e.ID)
	if err != nil {
		return
	}
	done := map[string]bool{}
	for _, a := range past {
		if a.StatusCode >= 200 && a.StatusCode < 300 && !a.At.Before(e.RedeliveredAt) {
			done[a.URL] = true
		}
	}
	body, err := json.Marshal(NewPayload(e))
	if err != nil {
		return
	}
	ok := true
	for _, u := range d.cfg.URLs {
		if done[Target(u)] {
			continue
		}
		// The lease is renewed before each send, so a send always has a
		// whole lease (at least two Timeouts) to finish and be recorded in;
		// the claim alone may have lapsed while the store was slow (SQLite's
		// one writer busy), and another server may have the event by now.
		if err := d.outbox.ExtendEventLease(ctx, e.ID, d.owner, time.Now(), d.cfg.Lease); err != nil {
			if errors.Is(err, store.ErrLeaseLost) {
				d.log.Info("webhook event taken over by another server before it was sent", "event", e.ID)
			} else if ctx.Err() == nil {
				d.log.Warn("renewing a webhook event's lease failed", "event", e.ID, "error", err.Error())
			}
			return
		}
		began := time.Now()
		a := d.send(ctx, u, e.ID, body)
		if ctx.Err() != nil {
			return
		}
		if d.cfg.OnSend != nil {
			d.cfg.OnSend(e.Type, a.StatusCode, time.Since(began))
		}
		if err := d.outbox.RecordAttempt(ctx, e.ID, a); err != nil {
			d.log.Warn("recording a webhook delivery failed", "event", e.ID, "error", err.Error())
			return
		}
		if a.StatusCode < 200 || a.StatusCode >= 300 {
			ok = false
			d.log.Warn("webhook delivery failed", "event", e.ID, "type", e.Type, "url", RedactURL(u), "status", a.StatusCode, "error", a.Error)
		}
	}
	state, next := store.DeliveryDelivered, time.Now()
	if !ok {
		state, next = store.DeliveryPending, time.Now().Add(d.backoff(e.Attempts))
		if e.Attempts+1 >= d.cfg.MaxAttempts || next.Sub(e.Time) > d.cfg.MaxAge {
			state = store.DeliveryFailed
			d.log.Error("webhook event given up", "event", e.ID, "type", e.Type, "attempts", e.Attempts+1)
		}
	}
	if err := d.outbox.FinishEvent(ctx, e.ID, d.owner, state, next); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("recording a webhook event's delivery failed", "event", e.ID, "error", err.Error())
		}
	} else if state == store.DeliveryFailed && d.cfg.OnGiveUp != nil {
		d.cfg.OnGiveUp(e.Type)
	}
}

// backoff is the delay before round n+1: Backoff·2ⁿ capped at MaxBackoff,
// drawn in [d/2, d) so that servers do not retry in step.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.Backoff
	for range min(n, 40) {
		if b >= d.cfg.MaxBackoff {
			break
		}
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return b/2 + rand.N(b/2+1)
}

// send POSTs one signed delivery and reports how it went, without secrets:
// the error names the failure, never the URL's path or query.
func (d *Dispatcher) send(ctx context.Context, target, id string, body []byte) store.Attempt {
	now := time.Now()
	a := store.Attempt{URL: Target(target), At: now}
	sig, err := d.signer.Sign(id, now, body)
	if err != nil {
		a.Error = "signing failed"
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		a.Error = "malformed URL"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "connspec-webhooks")
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		a.Error = describe(err)
		return a
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		a.Error = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return a
}

// describe names a transport failure without the URL (*url.Error quotes it).
func describe(err error) string {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
