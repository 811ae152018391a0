package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
)

// TestServeSurvivesAPostgresRestart stops the PostgreSQL server under a
// running server (background renewal of short-lived rotating tokens, proxy
// traffic) for longer than the tokens live, then starts it again. It needs
// a cluster of its own: CONNSPEC_FAULT_PG_URL, and the shell commands
// CONNSPEC_FAULT_PG_STOP and CONNSPEC_FAULT_PG_START that stop and start
// it (docs/reliability.md shows them for a cluster made by .ci/postgres.sh);
// it skips without them. Never point it at a shared server.
//
// During the outage requests fail cleanly (an HTTP error answer within the
// client's timeout, no secret in it) and renewals fail without spending a
// refresh token for nothing; after it, every connection serves requests
// again, no refresh token was presented twice (no invalid_grant), and each
// connection's stored refresh token is the live one (no credentials lost).
func TestServeSurvivesAPostgresRestart(t *testing.T) {
	url, stopCmd, startCmd := os.Getenv("CONNSPEC_FAULT_PG_URL"), os.Getenv("CONNSPEC_FAULT_PG_STOP"), os.Getenv("CONNSPEC_FAULT_PG_START")
	if url == "" || stopCmd == "" || startCmd == "" {
		t.Skip("CONNSPEC_FAULT_PG_URL, CONNSPEC_FAULT_PG_STOP and CONNSPEC_FAULT_PG_START are not set")
	}
	run := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	const n, ttl, outage = 20, 3 * time.Second, 5 * time.Second
	cipher := testCipher(t)
	st := multiOpenPostgres(t, multiSchema(t, url), cipher)
	p := newSoakProvider(t, ttl)
	params := map[string]map[string]any{"oauthy": {"clientId": "client-1", "clientSecret": "secret-1"}}
	ctx := context.Background()
	ids := make([]string, n)
	conns := make([]store.Imported, n)
	p.mu.Lock()
	for i := range ids {
		ids[i] = fmt.Sprintf("conn_restart%02d", i)
		access, refresh, exp := p.issueLocked(ids[i], ttl)
		conns[i] = store.Imported{Info: store.ConnectionInfo{ID: ids[i], Connector: "oauthy", Account: "acc-restart"},
			Credentials: map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_at": exp.UTC().Format(time.RFC3339Nano)},
			State:       store.State{Status: store.StatusConnected, NextRefresh: exp.Add(-ttl / 2)}}
	}
	p.mu.Unlock()
	if err := st.Import(ctx, conns); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{connectors: map[string]string{"oauthy": soakConnector(p)}, params: params, store: st, cipher: cipher})
	var renewFailures, renewed atomic.Int64
	rctx, stopRenewal := context.WithCancel(ctx)
	var renewal sync.WaitGroup
	renewal.Go(func() {
		e.Engine.RunRenewal(rctx, engine.RenewalOptions{KeepFresh: []string{"*"}, Ahead: ttl / 4, Rate: 500, Interval: 200 * time.Millisecond,
			Backoff: 500 * time.Millisecond, MaxBackoff: time.Second,
			Connection: func(info store.ConnectionInfo) engine.Connection {
				return engine.Connection{ID: info.ID, Connector: info.Connector, ConnectorParameters: params[info.Connector], Account: &engine.Account{ID: info.Account}}
			},
			OnRenewal: func(_ string, err error) {
				if err != nil {
					renewFailures.Add(1)
				} else {
					renewed.Add(1)
				}
			}})
	})
	defer func() { stopRenewal(); renewal.Wait() }()

	client := &http.Client{Timeout: 20 * time.Second}
	var phase atomic.Int32 // 0 before, 1 during the outage, 2 after
	var ok, failedBefore, failedDuring, failedAfter, unclean atomic.Int64
	var firstErrs multiFailures
	var sample atomic.Value
	var stop atomic.Bool
	var load sync.WaitGroup
	for w := range 4 {
		load.Go(func() {
			for i := w; !stop.Load(); i++ {
				id := ids[i%n]
				ph := phase.Load()
				msg := soakProxyGet(client, e.URL+"/v1/proxy/"+id+"/api/me")
				switch {
				case msg == "":
					ok.Add(1)
				case ph == 0:
					failedBefore.Add(1)
					firstErrs.add("before the outage: " + msg)
				case ph == 1:
					if failedDuring.Add(1) == 1 {
						sample.Store(msg)
					}
					// Clean: an HTTP answer saying what failed, not a
					// transport error or a hang; no secret.
					if strings.HasPrefix(msg, "transport error") || strings.Contains(msg, "rt-") || strings.Contains(msg, "at-") {
						unclean.Add(1)
						firstErrs.add("during the outage: " + msg)
					}
				default:
					failedAfter.Add(1)
					firstErrs.add("after the outage: " + msg)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	time.Sleep(2 * ttl)
	phase.Store(1)
	failuresBefore := renewFailures.Load()
	run(stopCmd)
	time.Sleep(outage)
	run(startCmd)
	// Recovered: the pool reconnects on its own. Requests during the first
	// moments after the start still count as the outage's.
	waitForCond(t, time.Minute, "a request through the proxy to succeed after the restart", func() bool {
		return soakProxyGet(client, e.URL+"/v1/proxy/"+ids[0]+"/api/me") == ""
	})
	renewFailuresOutage := renewFailures.Load() - failuresBefore
	phase.Store(2)
	renewedBefore := renewed.Load()
	time.Sleep(3 * ttl) // every connection renewed at least once since
	stop.Store(true)
	load.Wait()
	stopRenewal()
	renewal.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	lost := 0
	for _, id := range ids {
		rec, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rt, _ := rec.Credentials["refresh_token"].(string); p.refresh[rt] != id || rec.State.Status != store.StatusConnected {
			lost++
			t.Errorf("%s: the stored refresh token is not the live one (status %q)", id, rec.State.Status)
		}
	}
	t.Logf("%d proxy requests answered; failed: %d before, %d during the %v outage (%d not clean), %d after; background renewals: %d failed during the outage, %d done after it; %d invalid_grant; %d connections without their live refresh token",
		ok.Load(), failedBefore.Load(), failedDuring.Load(), outage, unclean.Load(), failedAfter.Load(), renewFailuresOutage, renewed.Load()-renewedBefore, p.invalidGrant.Load(), lost)
	t.Logf("a request during the outage was answered: %v", sample.Load())
	if failedBefore.Load()+failedAfter.Load()+unclean.Load() != 0 {
		t.Errorf("failures outside the outage or unclean ones; the first:\n%s", firstErrs.String())
	}
	if failedDuring.Load() == 0 {
		t.Errorf("no request failed while the database was down: the outage was not seen")
	}
	if v := p.invalidGrant.Load(); v != 0 {
		t.Errorf("%d invalid_grant answers (%d spent refresh tokens presented again)", v, p.reused.Load())
	}
	if renewed.Load() == renewedBefore {
		t.Errorf("no background renewal after the restart")
	}
}

// waitForCond polls cond until it holds or d passes.
func waitForCond(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
