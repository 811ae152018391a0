package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

var (
	_ Outbox       = (*SQLite)(nil)
	_ Reauthorizer = (*SQLite)(nil)
)

// sqliteInsertEvent writes e to the outbox inside tx, the transaction of
// the change it describes.
func sqliteInsertEvent(ctx context.Context, tx *sql.Tx, e Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (id, type, connection_id, connector, option_key, account, status, error, created_at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Type, e.Data.ConnectionID, e.Data.Connector, e.Data.Option, e.Data.Account, e.Data.Status, e.Data.Error,
		e.Time.UnixMicro(), e.Time.UnixMilli())
	return err
}

const eventColumns = `id, type, connection_id, connector, option_key, account, status, error, created_at, delivery, attempts, redelivered_at`

// scanEvent reads one row of eventColumns.
func scanEvent(row interface{ Scan(...any) error }) (Event, error) {
	var e Event
	var created, redelivered int64
	err := row.Scan(&e.ID, &e.Type, &e.Data.ConnectionID, &e.Data.Connector, &e.Data.Option, &e.Data.Account, &e.Data.Status, &e.Data.Error,
		&created, &e.Delivery, &e.Attempts, &redelivered)
	e.Time = time.UnixMicro(created).UTC()
	if redelivered != 0 {
		e.RedeliveredAt = time.UnixMicro(redelivered).UTC()
	}
	return e, err
}

// eventRows are the rows of a query of eventColumns, from either driver.
type eventRows interface {
	Next() bool
	Scan(...any) error
	Err() error
}

// collectEvents reads every row of rows.
func collectEvents(rows eventRows) ([]Event, error) {
	out := []Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *SQLite) queryEvents(ctx context.Context, query string, args ...any) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collectEvents(rows)
}

// ListEvents implements Outbox.
func (s *SQLite) ListEvents(ctx context.Context, limit int) ([]Event, error) {
	return s.queryEvents(ctx, `SELECT `+eventColumns+` FROM events ORDER BY seq DESC LIMIT ?`, limit)
}

// GetEvent implements Outbox.
func (s *SQLite) GetEvent(ctx context.Context, id string) (Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, ErrNotFound
	}
	return e, err
}

// ClaimEvents implements Outbox: one UPDATE ... RETURNING, and SQLite runs
// one writer at a time, so two processes never lease the same event.
func (s *SQLite) ClaimEvents(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Event, error) {
	ms := now.UnixMilli()
	events, err := s.queryEvents(ctx, `UPDATE events SET lease_owner = ?, lease_until = ?
		WHERE seq IN (SELECT seq FROM events WHERE delivery = 'pending' AND next_attempt_at <= ? AND lease_until < ? ORDER BY seq LIMIT ?)
		RETURNING `+eventColumns, owner, now.Add(lease).UnixMilli(), ms, ms, limit)
	if err != nil {
		return nil, err
	}
	sortEvents(events)
	return events, nil
}

// ExtendEventLease implements Outbox.
func (s *SQLite) ExtendEventLease(ctx context.Context, id, owner string, now time.Time, lease time.Duration) error {
	res, err := s.db.ExecContext(ctx, `UPDATE events SET lease_until = ? WHERE id = ? AND lease_owner = ? AND delivery = 'pending'`,
		now.Add(lease).UnixMilli(), id, owner)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrLeaseLost
	}
	return nil
}

// RecordAttempt implements Outbox.
func (s *SQLite) RecordAttempt(ctx context.Context, eventID string, a Attempt) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO event_attempts (event_id, url, at, status_code, error) VALUES (?, ?, ?, ?, ?)`,
		eventID, a.URL, a.At.UnixMicro(), a.StatusCode, a.Error)
	return err
}

// Attempts implements Outbox.
func (s *SQLite) Attempts(ctx context.Context, eventID string) ([]Attempt, error) {
	if _, err := s.GetEvent(ctx, eventID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT url, at, status_code, error FROM event_attempts WHERE event_id = ? ORDER BY at, rowid`, eventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Attempt{}
	for rows.Next() {
		var a Attempt
		var at int64
		if err := rows.Scan(&a.URL, &at, &a.StatusCode, &a.Error); err != nil {
			return nil, err
		}
		a.At = time.UnixMicro(at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// FinishEvent implements Outbox.
func (s *SQLite) FinishEvent(ctx context.Context, id, owner, delivery string, next time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE events SET delivery = ?, attempts = attempts + 1, next_attempt_at = ?, lease_owner = '', lease_until = 0
		WHERE id = ? AND lease_owner = ? AND delivery = 'pending'`, delivery, next.UnixMilli(), id, owner)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrLeaseLost
	}
	return nil
}

// PruneEvents implements Outbox.
func (s *SQLite) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM event_attempts WHERE event_id IN (SELECT id FROM events WHERE created_at < ?)`, before.UnixMicro()); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE created_at < ?`, before.UnixMicro())
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// RedeliverEvent implements Outbox.
func (s *SQLite) RedeliverEvent(ctx context.Context, id string) error {
	now := time.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE events SET delivery = 'pending', attempts = 0, next_attempt_at = ?, lease_owner = '', lease_until = 0, redelivered_at = ?
		WHERE id = ?`, now.UnixMilli(), now.UnixMicro(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// Reauthorize implements Reauthorizer: credentials, state and event in one
// transaction.
func (s *SQLite) Reauthorize(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	plain, err := json.Marshal(credentials)
	if err != nil {
		return 0, errors.New("store: credentials cannot be encoded as JSON")
	}
	sealed, err := s.cipher.Seal(plain, id)
	if err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	at := time.Now()
	now, ms := at.UTC().Format(time.RFC3339Nano), at.UnixMilli()
	var res sql.Result
	if expected == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO connections (id, version, credentials, updated_at, status, state_updated_at, credentials_ms, state_ms) VALUES (?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			id, sealed, now, StatusConnected, now, ms, ms)
	} else {
		// The renewal deadlines of the old credentials go with them.
		res, err = tx.ExecContext(ctx, `UPDATE connections SET version = version + 1, credentials = ?, updated_at = ?, status = ?, last_error = '', next_refresh = '', state_updated_at = ?,
			credentials_ms = ?, state_ms = ?, next_refresh_ms = 0, refresh_expires_ms = 0, renew_by_ms = 0
			WHERE id = ? AND version = ?`, sealed, now, StatusConnected, now, ms, ms, id, expected)
	}
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return 0, ErrConflict
	}
	if expected > 0 {
		info := ConnectionInfo{ID: id}
		err := tx.QueryRowContext(ctx, `SELECT connector, option_key, account FROM connection_info WHERE id = ?`, id).Scan(&info.Connector, &info.Option, &info.Account)
		if err == nil {
			err = sqliteInsertEvent(ctx, tx, newEvent(EventReauthorized, info, StatusConnected, ""))
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	return expected + 1, tx.Commit()
}

// sortEvents orders events oldest first (RETURNING gives no order).
func sortEvents(events []Event) {
	slices.SortStableFunc(events, func(a, b Event) int { return a.Time.Compare(b.Time) })
}
