package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
	"github.com/connspec/connspec/server/webhook"
)

// webhookFlags configure the delivery of connection events (docs/serve.md).
type webhookFlags struct {
	urls         []string
	allowPrivate []string
	maxAttempts  int
	maxAge       time.Duration
	retention    time.Duration
}

func (f *webhookFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.urls, "webhook-url", nil, "`URL` that receives connection events, signed with CONNSPEC_WEBHOOK_SECRET (repeatable; or CONNSPEC_WEBHOOK_URLS, comma-separated)")
	fl.StringArrayVar(&f.allowPrivate, "webhook-allow-private", nil, "`HOST` or IP prefix a webhook may reach although it is private, loopback, link-local or CGNAT (repeatable)")
	fl.IntVar(&f.maxAttempts, "webhook-max-attempts", 12, "delivery rounds of an event before it is marked failed")
	fl.DurationVar(&f.maxAge, "webhook-max-age", 24*time.Hour, "age after which an undelivered event is marked failed")
	fl.DurationVar(&f.retention, "event-retention", 7*24*time.Hour, "how long events and their delivery logs are kept")
}

// start checks the webhook settings and, when URLs are configured, delivers
// the store's events until ctx ends; without URLs events are only kept (the
// admin API lists them).
func (f *webhookFlags) start(ctx context.Context, outbox store.Outbox, logger *slog.Logger, metrics *server.Metrics) error {
	urls := f.urls
	if len(urls) == 0 {
		for _, u := range strings.Split(os.Getenv("CONNSPEC_WEBHOOK_URLS"), ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
	}
	if len(urls) == 0 {
		// Kept for the admin API, for the retention period.
		go pruneEvents(ctx, outbox, f.retention, logger)
		return nil
	}
	secret := os.Getenv("CONNSPEC_WEBHOOK_SECRET")
	if secret == "" {
		return usageErrorf("--webhook-url needs a signing secret in CONNSPEC_WEBHOOK_SECRET: whsec_ followed by the base64 of 32 random bytes (openssl rand -base64 32)")
	}
	d, err := webhook.New(outbox, webhook.Config{URLs: urls, Secret: secret, AllowPrivate: f.allowPrivate, MaxAttempts: f.maxAttempts,
		MaxAge: f.maxAge, Retention: f.retention, Logger: logger.With("component", "webhooks"),
		OnSend: metrics.WebhookSent, OnGiveUp: metrics.WebhookGivenUp})
	if err != nil {
		return usageErrorf("%v", err)
	}
	go d.Run(ctx)
	return nil
}

// pruneEvents removes events past the retention period, hourly, until ctx
// ends (a Dispatcher does this itself).
func pruneEvents(ctx context.Context, outbox store.Outbox, retention time.Duration, logger *slog.Logger) {
	if retention <= 0 {
		retention = 7 * 24 * time.Hour
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := outbox.PruneEvents(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			logger.Warn("pruning old events failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
