package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"time"
)

// Event types: what the stores write to their outbox, in the transaction of
// the change they describe.
const (
	// EventCreated: the catalog got a connection it did not have.
	EventCreated = "connection.created"
	// EventReauthorized: a new authorization replaced the credentials of a
	// stored connection (Reauthorize).
	EventReauthorized = "connection.reauthorized"
	// EventRefreshFailed: a renewal failed and left the status as it was
	// (a passing failure). Written once per run of failures: at the first
	// failure after a success (or since the connection was made), not again
	// until a renewal succeeds, however often it fails meanwhile and
	// whatever each failure's text (which may name a request id or a time);
	// so a connection failing on every request writes one event.
	EventRefreshFailed = "connection.refresh_failed"
	// EventNeedsReauth: the status became needs_reauth.
	EventNeedsReauth = "connection.needs_reauth"
	// EventDeleted: the connection left the catalog.
	EventDeleted = "connection.deleted"
)

// Delivery states of an event.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// ErrLeaseLost: the event's delivery lease is held by another owner (it
// expired and another instance claimed the event).
var ErrLeaseLost = errors.New("store: the event's delivery lease is held by another instance")

// Event is one entry of the outbox. Data never holds a secret: the error is
// the engine's renewal failure text, which is redacted before it is stored.
type Event struct {
	ID   string
	Type string
	Time time.Time
	Data EventData
	// Delivery is pending, delivered or failed; Attempts counts finished
	// delivery rounds.
	Delivery string
	Attempts int
	// RedeliveredAt is when RedeliverEvent last asked for the event to be
	// sent again: acknowledgements before it do not count.
	RedeliveredAt time.Time
}

// EventData is what an event says about its connection.
type EventData struct {
	ConnectionID string `json:"connectionId"`
	Connector    string `json:"connector"`
	Option       string `json:"option"`
	Account      string `json:"account"`
	Status       string `json:"status"`
	Error        string `json:"error"`
}

// Attempt is one delivery of an event to one URL: StatusCode 0 when no
// answer came (Error says why).
type Attempt struct {
	URL        string
	At         time.Time
	StatusCode int
	Error      string
}

// Outbox is the events a store wrote with the changes they describe, and
// their delivery. Claims are leases: an instance that dies holding one
// leaves the event to be claimed again when the lease expires.
type Outbox interface {
	// ListEvents returns up to limit events, newest first.
	ListEvents(ctx context.Context, limit int) ([]Event, error)
	// GetEvent returns one event, or ErrNotFound.
	GetEvent(ctx context.Context, id string) (Event, error)
	// ClaimEvents leases up to limit pending events that are due (oldest
	// first) to owner until now+lease; no two owners hold one at once.
	ClaimEvents(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Event, error)
	// ExtendEventLease renews owner's lease of a pending event to
	// now+lease; ErrLeaseLost when owner no longer holds it (another owner
	// claimed it after the lease ran out, the round was finished, or the
	// event was pruned).
	// A lease that ran out but was not claimed since is still owner's.
	ExtendEventLease(ctx context.Context, id, owner string, now time.Time, lease time.Duration) error
	// RecordAttempt appends one delivery attempt to an event's log.
	RecordAttempt(ctx context.Context, eventID string, a Attempt) error
	// Attempts returns an event's delivery log, oldest first.
	Attempts(ctx context.Context, eventID string) ([]Attempt, error)
	// FinishEvent ends owner's round of deliveries: delivered, failed, or
	// pending again from next. ErrLeaseLost when owner no longer holds it
	// (the event pruned included).
	FinishEvent(ctx context.Context, id, owner, delivery string, next time.Time) error
	// PruneEvents removes the events written before a time, with their logs.
	PruneEvents(ctx context.Context, before time.Time) (int, error)
	// RedeliverEvent makes an event pending again, due now, to be sent to
	// every URL (RedeliveredAt); ErrNotFound when there is no such event.
	RedeliverEvent(ctx context.Context, id string) error
}

// Reauthorizer is a Store that can replace a connection's credentials after
// a new authorization in one step with the state (connected, no error) and,
// when credentials were stored before, a connection.reauthorized event.
type Reauthorizer interface {
	// Reauthorize is CompareAndSwap for a new authorization.
	Reauthorize(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error)
}

var (
	_ Outbox       = (*Memory)(nil)
	_ Reauthorizer = (*Memory)(nil)
)

// newEventID returns an event's id, also its webhook-id on the wire.
func newEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// newEvent makes a pending event of a change committed now.
func newEvent(typ string, info ConnectionInfo, status, lastError string) Event {
	if status == "" {
		status = StatusConnected
	}
	return Event{
		ID: newEventID(), Type: typ, Time: time.Now().UTC().Truncate(time.Microsecond), Delivery: DeliveryPending,
		Data: EventData{ConnectionID: info.ID, Connector: info.Connector, Option: info.Option, Account: info.Account, Status: status, Error: lastError},
	}
}

// stateEvent is the event type a state change means, "" for none.
func stateEvent(old, next State) string {
	switch {
	case next.Status == StatusNeedsReauth && old.Status != StatusNeedsReauth:
		return EventNeedsReauth
	case next.LastError != "" && next.Status != StatusNeedsReauth && old.LastError == "":
		return EventRefreshFailed
	}
	return ""
}

// memoryEvent is an event of the Memory outbox with its lease and log.
type memoryEvent struct {
	Event
	next       time.Time
	owner      string
	leaseUntil time.Time
	attempts   []Attempt
}

// emit appends an event; m.mu is held.
func (m *Memory) emit(e Event) {
	m.events = append(m.events, &memoryEvent{Event: e, next: e.Time})
}

// ListEvents implements Outbox.
func (m *Memory) ListEvents(_ context.Context, limit int) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Event{}
	for i := len(m.events) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, m.events[i].Event)
	}
	return out, nil
}

func (m *Memory) findEvent(id string) *memoryEvent {
	for _, e := range m.events {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// GetEvent implements Outbox.
func (m *Memory) GetEvent(_ context.Context, id string) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.findEvent(id); e != nil {
		return e.Event, nil
	}
	return Event{}, ErrNotFound
}

// ClaimEvents implements Outbox.
func (m *Memory) ClaimEvents(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Event{}
	for _, e := range m.events {
		if len(out) == limit {
			break
		}
		if e.Delivery == DeliveryPending && !e.next.After(now) && e.leaseUntil.Before(now) {
			e.owner, e.leaseUntil = owner, now.Add(lease)
			out = append(out, e.Event)
		}
	}
	return out, nil
}

// ownedEvent is the pending event id that owner holds, else ErrLeaseLost
// (as the SQL stores answer, an event pruned meanwhile included); m.mu is
// held.
func (m *Memory) ownedEvent(id, owner string) (*memoryEvent, error) {
	e := m.findEvent(id)
	if e == nil || e.owner != owner || e.Delivery != DeliveryPending {
		return nil, ErrLeaseLost
	}
	return e, nil
}

// ExtendEventLease implements Outbox.
func (m *Memory) ExtendEventLease(_ context.Context, id, owner string, now time.Time, lease time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.ownedEvent(id, owner)
	if err != nil {
		return err
	}
	e.leaseUntil = now.Add(lease)
	return nil
}

// RecordAttempt implements Outbox.
func (m *Memory) RecordAttempt(_ context.Context, eventID string, a Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.findEvent(eventID)
	if e == nil {
		return ErrNotFound
	}
	a.At = a.At.UTC().Truncate(time.Microsecond)
	e.attempts = append(e.attempts, a)
	return nil
}

// Attempts implements Outbox.
func (m *Memory) Attempts(_ context.Context, eventID string) ([]Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.findEvent(eventID)
	if e == nil {
		return nil, ErrNotFound
	}
	return append([]Attempt{}, e.attempts...), nil
}

// FinishEvent implements Outbox.
func (m *Memory) FinishEvent(_ context.Context, id, owner, delivery string, next time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.ownedEvent(id, owner)
	if err != nil {
		return err
	}
	e.Delivery, e.Attempts, e.next, e.owner, e.leaseUntil = delivery, e.Attempts+1, next, "", time.Time{}
	return nil
}

// PruneEvents implements Outbox.
func (m *Memory) PruneEvents(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.events)
	m.events = slices.DeleteFunc(m.events, func(e *memoryEvent) bool { return e.Time.Before(before) })
	return n - len(m.events), nil
}

// RedeliverEvent implements Outbox.
func (m *Memory) RedeliverEvent(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.findEvent(id)
	if e == nil {
		return ErrNotFound
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	e.Delivery, e.Attempts, e.next, e.owner, e.leaseUntil, e.RedeliveredAt = DeliveryPending, 0, now, "", time.Time{}, now
	return nil
}

// Reauthorize implements Reauthorizer.
func (m *Memory) Reauthorize(_ context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.records[id]
	if r.Version != expected {
		return 0, ErrConflict
	}
	r.Credentials, r.Version = clone(credentials), expected+1
	r.State = State{Status: StatusConnected, UpdatedAt: time.Now()}
	m.records[id] = r
	if info, ok := m.infos[id]; ok && expected > 0 {
		m.emit(newEvent(EventReauthorized, info, StatusConnected, ""))
	}
	return r.Version, nil
}
