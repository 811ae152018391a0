package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
)

// renewalFlags configure serve's background renewal (engine.RunRenewal).
type renewalFlags struct {
	renew       bool
	keepFresh   []string
	ahead       time.Duration
	rate        float64
	concurrency int
	interval    time.Duration
	idleLimits  []string
}

func (r *renewalFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&r.renew, "renew", true, "renew connections in the background before their refresh tokens lapse (and those of --renew-keep-fresh before their access tokens expire)")
	fl.StringSliceVar(&r.keepFresh, "renew-keep-fresh", nil, "`connectors` whose access tokens are renewed ahead of expiry even when unused (comma-separated or repeated; * for all)")
	fl.DurationVar(&r.ahead, "renew-ahead", 5*time.Minute, "keep-fresh window: renew an access token this long before its planned renewal")
	fl.Float64Var(&r.rate, "renew-rate", 10, "background renewals this instance starts per second at most")
	fl.IntVar(&r.concurrency, "renew-concurrency", 4, "background renewals this instance runs at once at most")
	fl.DurationVar(&r.interval, "renew-interval", 10*time.Second, "how often to look for due connections when none are left")
	fl.StringArrayVar(&r.idleLimits, "renew-idle-limit", nil, "a connector's refresh-token inactivity limit, `CONNECTOR=DURATION` (repeatable; e.g. xero=60d): renewed before it lapses")
}

// inactivityLimits parses --renew-idle-limit.
func (r *renewalFlags) inactivityLimits() (map[string]time.Duration, error) {
	if len(r.idleLimits) == 0 {
		return nil, nil
	}
	out := map[string]time.Duration{}
	for _, v := range r.idleLimits {
		connector, d, ok := strings.Cut(v, "=")
		if !ok || connector == "" {
			return nil, fmt.Errorf("--renew-idle-limit %q: want CONNECTOR=DURATION (e.g. xero=60d)", v)
		}
		limit, err := parseDays(d)
		if err != nil || limit <= 0 {
			return nil, fmt.Errorf("--renew-idle-limit %q: %q is not a positive duration (e.g. 60d, 720h)", v, d)
		}
		out[connector] = limit
	}
	return out, nil
}

// parseDays is time.ParseDuration that also takes whole days ("60d").
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100000 {
			return 0, errors.New("bad number of days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func (r *renewalFlags) check() error {
	switch {
	case r.rate <= 0:
		return errors.New("--renew-rate must be positive")
	case r.concurrency <= 0:
		return errors.New("--renew-concurrency must be positive")
	case r.ahead <= 0 || r.interval <= 0:
		return errors.New("--renew-ahead and --renew-interval must be positive")
	}
	return nil
}

// start runs background renewal until ctx ends; the returned function
// waits for it to stop.
func (r *renewalFlags) start(ctx context.Context, eng *engine.Engine, params map[string]map[string]any, logger *slog.Logger) (wait func()) {
	if !r.renew {
		return func() {}
	}
	o := engine.RenewalOptions{KeepFresh: r.keepFresh, Ahead: r.ahead, Rate: r.rate, Concurrency: r.concurrency, Interval: r.interval,
		Connection: func(info store.ConnectionInfo) engine.Connection {
			conn := engine.Connection{ID: info.ID, Connector: info.Connector, Option: info.Option,
				ConnectorParameters: params[info.Connector], ConnectionParameters: info.Input}
			if info.Account != "" {
				conn.Account = &engine.Account{ID: info.Account}
			}
			return conn
		}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.RunRenewal(ctx, o); err != nil && ctx.Err() == nil {
			logger.Error("background renewal stopped", "error", err.Error())
		}
	}()
	logger.Info("background renewal", "keep_fresh", strings.Join(r.keepFresh, ","), "ahead", r.ahead.String(), "rate", r.rate, "concurrency", r.concurrency)
	return func() { <-done }
}
