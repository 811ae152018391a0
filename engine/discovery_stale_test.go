package engine

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connspec/connspec/internal/oauthtest"
)

// flakyMetadata serves an RFC 8414 document at the well-known URL, or the
// status it is told to answer instead (an outage), counting fetches.
type flakyMetadata struct {
	*httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	status  int
	doc     map[string]any
	cache   string
}

func newFlakyMetadata(t *testing.T, srv *oauthtest.Server, cache string) *flakyMetadata {
	f := &flakyMetadata{cache: cache}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/oauth-authorization-server" {
			http.NotFound(w, r)
			return
		}
		f.fetches.Add(1)
		f.mu.Lock()
		status, doc, cache := f.status, f.doc, f.cache
		f.mu.Unlock()
		if status != 0 {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("Cache-Control", cache)
		json.NewEncoder(w).Encode(doc)
	}))
	f.doc = rfc8414Doc(f.URL, srv)
	t.Cleanup(f.Close)
	return f
}

func (f *flakyMetadata) set(status int, edit func(doc map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
	if edit != nil {
		edit(f.doc)
	}
}

// lockedBuffer is a log sink for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDiscoveryStaleCopyDuringOutage: an expired document whose refetch
// fails (503, then the server gone) is used for up to 24 h past its
// expiry, refetched at most once a minute meanwhile, logged once, and
// refused after the grace period.
func TestDiscoveryStaleCopyDuringOutage(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	md := newFlakyMetadata(t, srv, "max-age=600")
	var logs lockedBuffer
	e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	clock := withClock(e)
	if err := startAuthorization(e); err != nil {
		t.Fatal(err)
	}
	md.set(http.StatusServiceUnavailable, nil)
	clock.Advance(601 * time.Second)
	for range 3 {
		if err := startAuthorization(e); err != nil {
			t.Fatalf("during an outage after expiry: %v", err)
		}
	}
	if n := md.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one refetch, then the stale copy for a minute)", n)
	}
	clock.Advance(61 * time.Second)
	if err := startAuthorization(e); err != nil || md.fetches.Load() != 3 {
		t.Fatalf("a minute later: %v, %d fetches (want a new try)", err, md.fetches.Load())
	}
	if n := strings.Count(logs.String(), "using the last good copy"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "secret-1") {
		t.Errorf("log shows the client secret:\n%s", logs.String())
	}
	// The server gone altogether: a transport error is an outage too.
	md.Close()
	clock.Advance(2 * time.Hour)
	if err := startAuthorization(e); err != nil {
		t.Fatalf("server unreachable within the grace period: %v", err)
	}
	clock.Advance(metadataStaleGrace - 2*time.Hour)
	if err := startAuthorization(e); err == nil {
		t.Fatal("a copy more than 24 h past its expiry was used")
	}
}

// TestDiscoveryStaleCopyNotForDefinitiveAnswers: a refetch that names
// another issuer, or that the server answers 404 at every well-known URL,
// is an error at once, and drops the stale copy; no-store documents have
// no stale copy.
func TestDiscoveryStaleCopyNotForDefinitiveAnswers(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	for _, tc := range []struct {
		name, cache string
		status      int
		edit        func(doc map[string]any)
		want        string
	}{
		{"issuer mismatch", "max-age=600", 0, func(doc map[string]any) { doc["issuer"] = "https://evil.example" }, "not the configured"},
		{"404", "max-age=600", http.StatusNotFound, nil, "answered 404"},
		{"no-store", "no-store", http.StatusServiceUnavailable, nil, "answered 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := newFlakyMetadata(t, srv, tc.cache)
			e := newEngine(t, nil, discoveryConnector(md.URL, srv.URL, ""))
			clock := withClock(e)
			if err := startAuthorization(e); err != nil {
				t.Fatal(err)
			}
			md.set(tc.status, tc.edit)
			clock.Advance(601 * time.Second)
			if err := startAuthorization(e); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			// An outage after the refusal finds no stale copy to use.
			md.set(http.StatusServiceUnavailable, nil)
			if err := startAuthorization(e); err == nil || !strings.Contains(err.Error(), "answered 503") {
				t.Fatalf("after the refusal: got %v, want the outage's error", err)
			}
		})
	}
}
