package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	_ Outbox       = (*Postgres)(nil)
	_ Reauthorizer = (*Postgres)(nil)
)

// postgresInsertEvent writes e to the outbox inside tx, the transaction of
// the change it describes.
func postgresInsertEvent(ctx context.Context, tx pgx.Tx, e Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO events (id, type, connection_id, connector, option_key, account, status, error, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.Type, e.Data.ConnectionID, e.Data.Connector, e.Data.Option, e.Data.Account, e.Data.Status, e.Data.Error,
		e.Time.UnixMicro(), e.Time.UnixMilli())
	return err
}

func (p *Postgres) queryEvents(ctx context.Context, query string, args ...any) ([]Event, error) {
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collectEvents(rows)
}

// ListEvents implements Outbox.
func (p *Postgres) ListEvents(ctx context.Context, limit int) ([]Event, error) {
	return p.queryEvents(ctx, `SELECT `+eventColumns+` FROM events ORDER BY seq DESC LIMIT $1`, limit)
}

// GetEvent implements Outbox.
func (p *Postgres) GetEvent(ctx context.Context, id string) (Event, error) {
	e, err := scanEvent(p.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, ErrNotFound
	}
	return e, err
}

// ClaimEvents implements Outbox: FOR UPDATE SKIP LOCKED, so instances
// claiming at once take different events instead of waiting on each other.
func (p *Postgres) ClaimEvents(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Event, error) {
	ms := now.UnixMilli()
	events, err := p.queryEvents(ctx, `UPDATE events SET lease_owner = $1, lease_until = $2
		WHERE seq IN (SELECT seq FROM events WHERE delivery = 'pending' AND next_attempt_at <= $3 AND lease_until < $3 ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+eventColumns, owner, now.Add(lease).UnixMilli(), ms, limit)
	if err != nil {
		return nil, err
	}
	sortEvents(events)
	return events, nil
}

// ExtendEventLease implements Outbox.
func (p *Postgres) ExtendEventLease(ctx context.Context, id, owner string, now time.Time, lease time.Duration) error {
	tag, err := p.pool.Exec(ctx, `UPDATE events SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND delivery = 'pending'`,
		now.Add(lease).UnixMilli(), id, owner)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrLeaseLost
	}
	return nil
}

// RecordAttempt implements Outbox.
func (p *Postgres) RecordAttempt(ctx context.Context, eventID string, a Attempt) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO event_attempts (event_id, url, at, status_code, error) VALUES ($1, $2, $3, $4, $5)`,
		eventID, a.URL, a.At.UnixMicro(), a.StatusCode, a.Error)
	return err
}

// Attempts implements Outbox.
func (p *Postgres) Attempts(ctx context.Context, eventID string) ([]Attempt, error) {
	if _, err := p.GetEvent(ctx, eventID); err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, `SELECT url, at, status_code, error FROM event_attempts WHERE event_id = $1 ORDER BY at, seq`, eventID)
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
func (p *Postgres) FinishEvent(ctx context.Context, id, owner, delivery string, next time.Time) error {
	tag, err := p.pool.Exec(ctx, `UPDATE events SET delivery = $1, attempts = attempts + 1, next_attempt_at = $2, lease_owner = '', lease_until = 0
		WHERE id = $3 AND lease_owner = $4 AND delivery = 'pending'`, delivery, next.UnixMilli(), id, owner)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrLeaseLost
	}
	return nil
}

// PruneEvents implements Outbox.
func (p *Postgres) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM event_attempts WHERE event_id IN (SELECT id FROM events WHERE created_at < $1)`, before.UnixMicro()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE created_at < $1`, before.UnixMicro())
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// RedeliverEvent implements Outbox.
func (p *Postgres) RedeliverEvent(ctx context.Context, id string) error {
	now := time.Now()
	tag, err := p.pool.Exec(ctx, `UPDATE events SET delivery = 'pending', attempts = 0, next_attempt_at = $1, lease_owner = '', lease_until = 0, redelivered_at = $2
		WHERE id = $3`, now.UnixMilli(), now.UnixMicro(), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrNotFound
	}
	return nil
}

// Reauthorize implements Reauthorizer: credentials, state and event in one
// transaction.
func (p *Postgres) Reauthorize(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	plain, err := json.Marshal(credentials)
	if err != nil {
		return 0, errors.New("store: credentials cannot be encoded as JSON")
	}
	sealed, err := p.cipher.Seal(plain, id)
	if err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var n int64
		if expected == 0 {
			tag, err := tx.Exec(ctx, `INSERT INTO connections (id, version, credentials, status, state_updated_at) VALUES ($1, 1, $2, $3, now()) ON CONFLICT (id) DO NOTHING`,
				id, sealed, StatusConnected)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
		} else {
			tag, err := tx.Exec(ctx, `UPDATE connections SET version = version + 1, credentials = $1, updated_at = now(), status = $2, last_error = '', next_refresh = NULL, state_updated_at = now(),
				refresh_expires_at = NULL, renew_by = NULL
				WHERE id = $3 AND version = $4`, sealed, StatusConnected, id, expected)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
		}
		if n != 1 {
			return ErrConflict
		}
		if expected == 0 {
			return nil
		}
		info := ConnectionInfo{ID: id}
		err := tx.QueryRow(ctx, `SELECT connector, option_key, account FROM connection_info WHERE id = $1`, id).Scan(&info.Connector, &info.Option, &info.Account)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return postgresInsertEvent(ctx, tx, newEvent(EventReauthorized, info, StatusConnected, ""))
	})
	if err != nil {
		return 0, err
	}
	return expected + 1, nil
}
