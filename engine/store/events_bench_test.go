package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSQLiteSetState prices the outbox on the renewal path: SetState
// is now a transaction that reads the old state and writes the event a
// transition means. "update-only" is the single UPDATE SetState was
// before, run in the same process for the ratio.
func BenchmarkSQLiteSetState(b *testing.B) {
	c, _ := NewCipher(make([]byte, KeySize))
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "connspec.db"), c)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.CompareAndSwap(ctx, "c1", 0, map[string]any{"access_token": "a"}); err != nil {
		b.Fatal(err)
	}
	if err := s.PutConnection(ctx, ConnectionInfo{ID: "c1", Connector: "acme"}); err != nil {
		b.Fatal(err)
	}
	next := time.Now().Add(time.Hour)
	b.Run("update-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.db.ExecContext(ctx, `UPDATE connections SET status = ?, last_error = ?, next_refresh = ?, state_updated_at = ? WHERE id = ?`,
				StatusConnected, "", next.UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano), "c1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("no-event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.SetState(ctx, "c1", State{Status: StatusConnected, NextRefresh: next}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := s.SetState(ctx, "c1", State{Status: StatusConnected, LastError: fmt.Sprint("token endpoint: HTTP 503 #", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
