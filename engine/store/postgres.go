package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var postgresMigrations = []string{
	`CREATE TABLE connections (
		id          TEXT PRIMARY KEY,
		version     BIGINT NOT NULL,
		credentials TEXT NOT NULL,
		updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
	)`,
	`ALTER TABLE connections
		ADD COLUMN status TEXT NOT NULL DEFAULT '',
		ADD COLUMN last_error TEXT NOT NULL DEFAULT '',
		ADD COLUMN next_refresh TIMESTAMPTZ,
		ADD COLUMN state_updated_at TIMESTAMPTZ`,
}

// Postgres is a Store in PostgreSQL, for several connspec instances
// sharing connections. Credentials are sealed with the Cipher; Lock holds an
// advisory lock so only one instance renews a connection at a time.
type Postgres struct {
	pool   *pgxpool.Pool
	cipher *Cipher
}

// OpenPostgres connects to url and brings the schema up to date. Migrations
// run under an advisory lock, so instances starting together apply them once.
func OpenPostgres(ctx context.Context, url string, c *Cipher) (*Postgres, error) {
	if c == nil {
		return nil, errors.New("store: a PostgreSQL store needs a Cipher: credentials are encrypted at rest")
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", redactURL(err))
	}
	p := &Postgres{pool: pool, cipher: c}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// redactURL keeps a connection URL (which may hold a password) out of errors.
func redactURL(err error) error { return errors.New("cannot connect or parse the database URL") }

// Close closes the pool.
func (p *Postgres) Close() { p.pool.Close() }

const migrationLock = 0x636f6e6e // "conn"

func (p *Postgres) migrate(ctx context.Context) error {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: %w", redactURL(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	var done int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&done); err != nil {
		return err
	}
	if done > len(postgresMigrations) {
		return fmt.Errorf("store: the database has schema version %d, newer than this connspec (%d)", done, len(postgresMigrations))
	}
	for i := done; i < len(postgresMigrations); i++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, postgresMigrations[i]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
	}
	return nil
}

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, id string) (Record, error) {
	var version int64
	var sealed string
	var st State
	var next, updated *time.Time
	err := p.pool.QueryRow(ctx, `SELECT version, credentials, status, last_error, next_refresh, state_updated_at FROM connections WHERE id = $1`, id).
		Scan(&version, &sealed, &st.Status, &st.LastError, &next, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	plain, err := p.cipher.Open(sealed, id)
	if err != nil {
		return Record{}, err
	}
	var creds map[string]any
	if err := json.Unmarshal(plain, &creds); err != nil {
		return Record{}, errors.New("store: stored credentials are not a JSON object")
	}
	if next != nil {
		st.NextRefresh = *next
	}
	if updated != nil {
		st.UpdatedAt = *updated
	}
	return Record{Credentials: creds, Version: version, State: st}, nil
}

// SetState implements Store.
func (p *Postgres) SetState(ctx context.Context, id string, st State) error {
	var next *time.Time
	if !st.NextRefresh.IsZero() {
		next = &st.NextRefresh
	}
	tag, err := p.pool.Exec(ctx, `UPDATE connections SET status = $1, last_error = $2, next_refresh = $3, state_updated_at = now() WHERE id = $4`,
		st.Status, st.LastError, next, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrNotFound
	}
	return nil
}

// CompareAndSwap implements Store with one conditional statement.
func (p *Postgres) CompareAndSwap(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	plain, err := json.Marshal(credentials)
	if err != nil {
		return 0, errors.New("store: credentials cannot be encoded as JSON")
	}
	sealed, err := p.cipher.Seal(plain, id)
	if err != nil {
		return 0, err
	}
	var n int64
	if expected == 0 {
		tag, err := p.pool.Exec(ctx, `INSERT INTO connections (id, version, credentials) VALUES ($1, 1, $2) ON CONFLICT (id) DO NOTHING`, id, sealed)
		if err != nil {
			return 0, err
		}
		n = tag.RowsAffected()
	} else {
		tag, err := p.pool.Exec(ctx, `UPDATE connections SET version = version + 1, credentials = $1, updated_at = now() WHERE id = $2 AND version = $3`, sealed, id, expected)
		if err != nil {
			return 0, err
		}
		n = tag.RowsAffected()
	}
	if n != 1 {
		return 0, ErrConflict
	}
	return expected + 1, nil
}

// Lock takes the connection's advisory lock, held on one pooled connection
// until unlock is called: instances renewing the same connection queue up
// here, and each re-reads the store once it has the lock.
func (p *Postgres) Lock(ctx context.Context, id string) (unlock func(), err error) {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, id); err != nil {
		conn.Release()
		return nil, err
	}
	return func() {
		conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, id)
		conn.Release()
	}, nil
}

// Locker is a Store that can serialise renewals of a connection across
// processes (PostgreSQL's advisory locks). The engine holds it around a
// token request, after its in-process lock.
type Locker interface {
	Lock(ctx context.Context, id string) (unlock func(), err error)
}
