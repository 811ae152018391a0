package store

import (
	"context"
	"errors"
	"time"
)

// ErrUsed: a single-use key was already used.
var ErrUsed = errors.New("store: this single-use key was already used")

// UseOnce records single-use keys (an OAuth flow, a connect link) for every
// server sharing the store, so a replayed flow cookie or a link that has
// already produced a connection is refused by any instance.
type UseOnce interface {
	// Use records key until the given time and returns nil the first time,
	// ErrUsed every time after (until then). Records past their time are
	// forgotten: the key must stop being accepted on its own by then.
	Use(ctx context.Context, key string, until time.Time) error
	// Used reports whether key is recorded.
	Used(ctx context.Context, key string) (bool, error)
}

var _ UseOnce = (*Memory)(nil)

// Use implements UseOnce.
func (m *Memory) Use(_ context.Context, key string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for k, t := range m.used {
		if now.After(t) {
			delete(m.used, k)
		}
	}
	if t, ok := m.used[key]; ok && !now.After(t) {
		return ErrUsed
	}
	if m.used == nil {
		m.used = map[string]time.Time{}
	}
	m.used[key] = until
	return nil
}

// Used implements UseOnce.
func (m *Memory) Used(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.used[key]
	return ok && !time.Now().After(t), nil
}
