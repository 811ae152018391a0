// Package store keeps connection credentials between requests and across
// processes. Every write is a compare-and-swap on a version, so a process
// that lost a race re-reads instead of overwriting newer credentials (and
// instead of spending a rotated refresh token twice).
package store

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"
)

var (
	// ErrNotFound: no credentials are stored for the connection.
	ErrNotFound = errors.New("store: no credentials stored for this connection")
	// ErrConflict: the stored version is not the one the writer read.
	ErrConflict = errors.New("store: credentials were changed by someone else")
)

// Record is what is stored for one connection.
type Record struct {
	Credentials map[string]any
	// Version grows by one with every credentials write; the first makes it 1.
	Version int64
	// State is the connection's health, written by the engine.
	State State
}

// Connection statuses.
const (
	StatusConnected   = "connected"
	StatusNeedsReauth = "needs_reauth" // the provider refused the refresh token (invalid_grant)
)

// State is what the engine last learnt about a connection. It is written
// without a version check: the latest observation wins.
type State struct {
	Status string
	// LastError is the last renewal failure, without secrets; "" when the
	// last renewal succeeded.
	LastError string
	// NextRefresh is when the engine plans to renew the credentials.
	NextRefresh time.Time
	// RefreshExpiresAt is when the refresh token lapses: as the provider
	// told it with the token (refresh_token_expires_in, QuickBooks'
	// x_refresh_token_expires_in), or from the connector's known inactivity
	// limit; zero when unknown.
	RefreshExpiresAt time.Time
	// RenewBy is when background renewal must renew the connection at the
	// latest so that its refresh token does not lapse (see
	// engine.RunRenewal); zero: no such deadline.
	RenewBy   time.Time
	UpdatedAt time.Time
}

// Store keeps credentials by connection ID. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the record of a connection, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// CompareAndSwap stores credentials if the stored version is expected
	// (0: nothing stored yet) and returns the new version; otherwise it
	// returns ErrConflict and changes nothing.
	CompareAndSwap(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error)
	// SetState records the connection's state; ErrNotFound when nothing is
	// stored for it.
	SetState(ctx context.Context, id string, state State) error
}

// Memory is a Store and a Catalog in process memory: the default, and the
// reference the durable stores are tested against.
type Memory struct {
	mu      sync.Mutex
	records map[string]Record
	infos   map[string]ConnectionInfo // the Catalog (catalog.go)
	used    map[string]time.Time      // single-use keys (once.go)
	keys    map[string]APIKey         // API keys (apikeys.go)
	events  []*memoryEvent            // the outbox (events.go)
	claims  map[string]memClaim       // background-renewal claims (renewal.go)
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{records: map[string]Record{}, infos: map[string]ConnectionInfo{}}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, id string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok {
		return Record{}, ErrNotFound
	}
	r.Credentials = clone(r.Credentials)
	return r, nil
}

// CompareAndSwap implements Store.
func (m *Memory) CompareAndSwap(_ context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records[id].Version != expected {
		return 0, ErrConflict
	}
	r := m.records[id]
	r.Credentials, r.Version = clone(credentials), expected+1
	m.records[id] = r
	return r.Version, nil
}

// SetState implements Store.
func (m *Memory) SetState(_ context.Context, id string, state State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok {
		return ErrNotFound
	}
	if info, ok := m.infos[id]; ok {
		if typ := stateEvent(r.State, state); typ != "" {
			m.emit(newEvent(typ, info, state.Status, state.LastError))
		}
	}
	r.State = state
	m.records[id] = r
	return nil
}

// clone copies the top level and nested maps and lists, so callers cannot
// change stored credentials behind the store's back.
func clone(m map[string]any) map[string]any {
	out := maps.Clone(m)
	for k, v := range out {
		switch t := v.(type) {
		case map[string]any:
			out[k] = clone(t)
		case []any:
			cp := make([]any, len(t))
			for i, x := range t {
				if mm, ok := x.(map[string]any); ok {
					x = clone(mm)
				}
				cp[i] = x
			}
			out[k] = cp
		}
	}
	return out
}
