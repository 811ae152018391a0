package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// ConnectionInfo is what a service keeps about a connection besides its credentials.
type ConnectionInfo struct {
	ID        string
	Connector string
	Option    string // auth option key, "" for the base block
	Account   string
	// Input is the connection input a person typed (API keys among it): sealed at rest like credentials.
	Input     map[string]any
	CreatedAt time.Time
	// Unreadable is set by ListConnections on a row it could not read (its
	// sealed input does not open, say): the row is listed with what could
	// be read, so one damaged row does not hide the others. Never a secret.
	Unreadable error
}

// Catalog keeps the connections a service knows about. Implementations are safe for concurrent use.
type Catalog interface {
	// PutConnection inserts or replaces the info of info.ID (CreatedAt zero: now).
	PutConnection(ctx context.Context, info ConnectionInfo) error
	// GetConnection returns one connection's info, or ErrNotFound.
	GetConnection(ctx context.Context, id string) (ConnectionInfo, error)
	// ListConnections returns the connections of an account ("" : all), oldest first (CreatedAt, then ID).
	// A row that cannot be read is listed with Unreadable set instead of failing the whole list.
	ListConnections(ctx context.Context, account string) ([]ConnectionInfo, error)
	// DeleteConnection removes the info, the credentials and the state of id in one step; ErrNotFound when none of them existed.
	DeleteConnection(ctx context.Context, id string) error
}

var _ Catalog = (*Memory)(nil)

// prepareInfo checks info before it is stored and normalises CreatedAt the
// same way for every store: now when zero, UTC, whole microseconds (what
// PostgreSQL keeps), within years 1 to 9999 (so SQLite's fixed-width text
// sorts in time order).
func prepareInfo(info ConnectionInfo) (ConnectionInfo, error) {
	if info.ID == "" {
		return info, errors.New("store: a connection needs an ID")
	}
	if info.CreatedAt.IsZero() {
		info.CreatedAt = time.Now()
	}
	info.CreatedAt = info.CreatedAt.UTC().Truncate(time.Microsecond)
	if y := info.CreatedAt.Year(); y < 1 || y > 9999 {
		return info, errors.New("store: a connection's CreatedAt must fall in the years 1 to 9999")
	}
	return info, nil
}

// inputAAD binds a sealed input to its row. The prefix keeps it apart from
// the credentials of a connection, which are bound to the bare id; the NUL
// byte cannot occur in a PostgreSQL text id.
func inputAAD(id string) string { return "connection_info.input\x00" + id }

// sealInput encodes and seals a connection's input for the row of id.
func sealInput(c *Cipher, id string, input map[string]any) (string, error) {
	plain, err := json.Marshal(input)
	if err != nil {
		return "", errors.New("store: connection input cannot be encoded as JSON")
	}
	return c.Seal(plain, inputAAD(id))
}

// openInput opens a value made by sealInput for the row of id.
func openInput(c *Cipher, id, sealed string) (map[string]any, error) {
	plain, err := c.Open(sealed, inputAAD(id))
	if err != nil {
		return nil, err
	}
	var input map[string]any
	if err := json.Unmarshal(plain, &input); err != nil {
		return nil, errors.New("store: stored connection input is not a JSON object")
	}
	return input, nil
}

// compareInfo orders connections oldest first, then by ID (bytewise).
func compareInfo(a, b ConnectionInfo) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// PutConnection implements Catalog.
func (m *Memory) PutConnection(_ context.Context, info ConnectionInfo) error {
	info, err := prepareInfo(info)
	if err != nil {
		return err
	}
	info.Input = clone(info.Input)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.infos == nil {
		m.infos = map[string]ConnectionInfo{}
	}
	if _, ok := m.infos[info.ID]; !ok {
		m.emit(newEvent(EventCreated, info, m.records[info.ID].State.Status, ""))
	}
	m.infos[info.ID] = info
	return nil
}

// GetConnection implements Catalog.
func (m *Memory) GetConnection(_ context.Context, id string) (ConnectionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.infos[id]
	if !ok {
		return ConnectionInfo{}, ErrNotFound
	}
	info.Input = clone(info.Input)
	return info, nil
}

// ListConnections implements Catalog.
func (m *Memory) ListConnections(_ context.Context, account string) ([]ConnectionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []ConnectionInfo{}
	for _, info := range m.infos {
		if account == "" || info.Account == account {
			info.Input = clone(info.Input)
			out = append(out, info)
		}
	}
	slices.SortFunc(out, compareInfo)
	return out, nil
}

// DeleteConnection implements Catalog.
func (m *Memory) DeleteConnection(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, hasInfo := m.infos[id]
	rec, hasRecord := m.records[id]
	if !hasInfo && !hasRecord {
		return ErrNotFound
	}
	if hasInfo {
		m.emit(newEvent(EventDeleted, info, rec.State.Status, ""))
	}
	delete(m.infos, id)
	delete(m.records, id)
	delete(m.claims, id)
	return nil
}
