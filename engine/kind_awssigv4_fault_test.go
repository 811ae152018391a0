package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// stsFaults wraps f's STS: each STS request first waits delay, then takes
// the next scripted status (a 5xx or an AccessDenied 403) while there is
// one, else is answered normally. attempts counts STS requests.
type stsFaults struct {
	attempts atomic.Int64
	delay    time.Duration
	script   chan int
}

func newSTSFaults(f *fakeAWS, delay time.Duration, statuses ...int) *stsFaults {
	s := &stsFaults{delay: delay, script: make(chan int, 8)}
	for _, st := range statuses {
		s.script <- st
	}
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Host, "sts.") {
			inner.ServeHTTP(w, r)
			return
		}
		s.attempts.Add(1)
		time.Sleep(s.delay)
		select {
		case st := <-s.script:
			code := "InternalFailure"
			if st == http.StatusForbidden {
				code = "AccessDenied"
			}
			w.WriteHeader(st)
			fmt.Fprintf(w, `<ErrorResponse><Error><Code>%s</Code><Message>scripted</Message></Error></ErrorResponse>`, code)
		default:
			inner.ServeHTTP(w, r)
		}
	})
	return s
}

// casFailingStore fails its next fail credential writes.
type casFailingStore struct {
	store.Store
	fail atomic.Int64
}

func (s *casFailingStore) CompareAndSwap(ctx context.Context, id string, version int64, creds map[string]any) (int64, error) {
	if s.fail.Add(-1) >= 0 {
		return 0, errors.New("fault: the store is down")
	}
	return s.Store.CompareAndSwap(ctx, id, version, creds)
}

// TestSigV4AssumeRoleFaults: STS failing with a 5xx is a passing failure
// (the next call assumes the role; before expiry the current role session
// stays in use, with one STS attempt per call, never a loop); a slow STS
// under concurrent first calls is one AssumeRole; STS refusing the base
// credentials (AccessDenied) makes the connection defunct (needs_reauth
// in the store) and is not asked again; role credentials the store failed
// to take stay in use and are written on the next call, without a second
// AssumeRole.
func TestSigV4AssumeRoleFaults(t *testing.T) {
	ctx := context.Background()
	conn := func(f *fakeAWS) Connection {
		return Connection{ID: "aws-f", ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()}
	}
	t.Run("5xx then OK", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		faults := newSTSFaults(f, 0, http.StatusInternalServerError)
		e, _ := awsRoleEngine(t, f, clock)
		cl := mustClient(t, e, conn(f))
		_, err := cl.Get(ctx, "/prod/items")
		if err == nil || errors.Is(err, ErrConnectionIsDefunct) || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("want a passing failure naming HTTP 500, got %v", err)
		}
		if got := get(t, cl, "/prod/items"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
		if n, a := f.assumes.Load(), faults.attempts.Load(); n != 1 || a != 2 {
			t.Errorf("%d AssumeRole in %d STS requests, want 1 in 2", n, a)
		}
		f.check()
	})
	t.Run("5xx before expiry", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		faults := newSTSFaults(f, 0)
		e, _ := awsRoleEngine(t, f, clock)
		cl := mustClient(t, e, conn(f))
		get(t, cl, "/prod/items")
		clock.add(time.Hour - 2*time.Minute) // inside the margin, still valid
		faults.script <- http.StatusBadGateway
		faults.script <- http.StatusServiceUnavailable
		for i := range 2 {
			if got := get(t, cl, "/prod/items"); got["ok"] != true {
				t.Fatalf("call %d: got %v", i, got)
			}
			if id := cl.Credentials()["accessKeyId"]; id != "ASIATEMP1" {
				t.Errorf("call %d: signed with %v, want the still-valid ASIATEMP1", i, id)
			}
		}
		if n, a := f.assumes.Load(), faults.attempts.Load(); n != 1 || a != 3 {
			t.Errorf("%d AssumeRole in %d STS requests, want 1 in 3 (one try per call)", n, a)
		}
		get(t, cl, "/prod/items")
		if n := f.assumes.Load(); n != 2 || cl.Credentials()["accessKeyId"] != "ASIATEMP2" {
			t.Errorf("%d AssumeRole once STS answers again, want 2", n)
		}
		f.check()
	})
	t.Run("slow STS, concurrent requests", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		faults := newSTSFaults(f, 200*time.Millisecond)
		e, _ := awsRoleEngine(t, f, clock)
		cl := mustClient(t, e, conn(f))
		getConcurrently(t, []*Client{cl}, 10, "/prod/items", "map[len:0 ok:true]")
		if n := faults.attempts.Load(); n != 1 {
			t.Errorf("%d STS requests for 10 concurrent first calls, want 1", n)
		}
		f.check()
	})
	t.Run("AccessDenied", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		faults := newSTSFaults(f, 0, http.StatusForbidden, http.StatusForbidden, http.StatusForbidden)
		stores := faultSQLiteStores(t, 1)
		e, _ := awsRoleEngine(t, f, clock, WithStore(stores[0]))
		cl := mustClient(t, e, conn(f))
		for range 3 {
			_, err := cl.Get(ctx, "/prod/items")
			var ce *ConnectionError
			if !errors.As(err, &ce) || ce.Key != KeyConnectionIsDefunct || !strings.Contains(err.Error(), "AccessDenied") {
				t.Fatalf("want a defunct connection naming AccessDenied, got %v", err)
			}
		}
		if n := faults.attempts.Load(); n != 1 {
			t.Errorf("%d STS requests for 3 calls, want 1", n)
		}
		rec, err := stores[0].Get(ctx, "aws-f")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if err == nil && rec.State.Status != store.StatusNeedsReauth {
			t.Errorf("store state %q, want needs_reauth", rec.State.Status)
		}
		if f.apiCalls.Load() != 0 {
			t.Errorf("%d API calls without credentials", f.apiCalls.Load())
		}
	})
	t.Run("store write fails after AssumeRole", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		stores := faultSQLiteStores(t, 1)
		s := &casFailingStore{Store: stores[0]}
		e, _ := awsRoleEngine(t, f, clock, WithStore(s))
		cl := mustClient(t, e, conn(f))
		s.fail.Store(1)
		_, err := cl.Get(ctx, "/prod/items")
		if err == nil || !strings.Contains(err.Error(), "storing new credentials") {
			t.Fatalf("want the store's failure reported, got %v", err)
		}
		if strings.Contains(err.Error(), "canary-temp") {
			t.Errorf("the error shows the role's secrets: %v", err)
		}
		if got := get(t, cl, "/prod/items"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
		if n := f.assumes.Load(); n != 1 {
			t.Errorf("%d AssumeRole, want 1: the role credentials the store failed to take were lost", n)
		}
		rec, err := stores[0].Get(ctx, "aws-f")
		if err != nil || rec.Credentials["accessKeyId"] != "ASIATEMP1" {
			t.Errorf("the store holds %v (%v), want ASIATEMP1", rec.Credentials["accessKeyId"], err)
		}
		f.check()
	})
}
