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
	// The Catalog: input is sealed like credentials.
	`CREATE TABLE connection_info (
		id         TEXT PRIMARY KEY,
		connector  TEXT NOT NULL,
		option_key TEXT NOT NULL DEFAULT '',
		account    TEXT NOT NULL DEFAULT '',
		input      TEXT NOT NULL,
		created_at TIMESTAMPTZ NOT NULL
	)`,
	`CREATE INDEX connection_info_account ON connection_info (account, created_at)`,
	// Single-use keys (UseOnce): consumed OAuth flows and connect links.
	`CREATE TABLE used_keys (
		key        TEXT PRIMARY KEY,
		expires_at TIMESTAMPTZ NOT NULL
	)`,
	`CREATE INDEX used_keys_expires ON used_keys (expires_at)`,
	// API keys of serve: hash is the hex SHA-256 of the key, never the key.
	`CREATE TABLE api_keys (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		hash         TEXT NOT NULL,
		scopes       TEXT NOT NULL,
		account      TEXT NOT NULL DEFAULT '',
		connector    TEXT NOT NULL DEFAULT '',
		created_at   TIMESTAMPTZ NOT NULL,
		revoked_at   TIMESTAMPTZ,
		last_used_at TIMESTAMPTZ
	)`,
	// The outbox (events.go): written in the transaction of the change an
	// event describes; times are unix microseconds (created_at) and
	// milliseconds (next_attempt_at, lease_until), as in SQLite.
	`CREATE TABLE events (
		seq             BIGSERIAL PRIMARY KEY,
		id              TEXT NOT NULL UNIQUE,
		type            TEXT NOT NULL,
		connection_id   TEXT NOT NULL,
		connector       TEXT NOT NULL DEFAULT '',
		option_key      TEXT NOT NULL DEFAULT '',
		account         TEXT NOT NULL DEFAULT '',
		status          TEXT NOT NULL DEFAULT '',
		error           TEXT NOT NULL DEFAULT '',
		created_at      BIGINT NOT NULL,
		delivery        TEXT NOT NULL DEFAULT 'pending',
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at BIGINT NOT NULL,
		lease_owner     TEXT NOT NULL DEFAULT '',
		lease_until     BIGINT NOT NULL DEFAULT 0,
		redelivered_at  BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX events_due ON events (delivery, next_attempt_at)`,
	`CREATE TABLE event_attempts (
		seq         BIGSERIAL PRIMARY KEY,
		event_id    TEXT NOT NULL,
		url         TEXT NOT NULL,
		at          BIGINT NOT NULL,
		status_code INTEGER NOT NULL,
		error       TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX event_attempts_event ON event_attempts (event_id, at)`,
	// Background renewal (renewal.go): the refresh token's lapse, the
	// deadline it sets, and the claim of the instance renewing the
	// connection (taken with FOR UPDATE SKIP LOCKED, lapsing at
	// renew_claim_until).
	`ALTER TABLE connections
		ADD COLUMN refresh_expires_at TIMESTAMPTZ,
		ADD COLUMN renew_by TIMESTAMPTZ,
		ADD COLUMN renew_claim_owner TEXT NOT NULL DEFAULT '',
		ADD COLUMN renew_claim_until TIMESTAMPTZ`,
	`CREATE INDEX connections_renew_by ON connections (renew_by) WHERE renew_by IS NOT NULL`,
	`CREATE INDEX connections_next_refresh ON connections (next_refresh) WHERE next_refresh IS NOT NULL`,
}

var (
	_ Store   = (*Postgres)(nil)
	_ Catalog = (*Postgres)(nil)
	_ UseOnce = (*Postgres)(nil)
)

// Postgres is a Store in PostgreSQL, for several connspec instances
// sharing connections. Credentials are sealed with the Cipher; Lock holds an
// advisory lock so only one instance renews a connection at a time.
type Postgres struct {
	pool *pgxpool.Pool
	// locks carries the advisory locks of Lock, apart from pool: a renewal
	// holds its lock while it reads and writes through pool, so with a
	// single pool, as many concurrent renewals as it has connections would
	// hold all of them and wait forever for one more.
	locks  *pgxpool.Pool
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
	locks, err := pgxpool.New(ctx, url)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres: %w", redactURL(err))
	}
	p := &Postgres{pool: pool, locks: locks, cipher: c}
	if err := p.migrate(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// redactURL keeps a connection URL (which may hold a password) out of errors.
func redactURL(err error) error { return errors.New("cannot connect or parse the database URL") }

// Close closes the pools.
func (p *Postgres) Close() {
	p.pool.Close()
	p.locks.Close()
}

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
	var next, updated, refreshExp, renewBy *time.Time
	err := p.pool.QueryRow(ctx, `SELECT version, credentials, status, last_error, next_refresh, state_updated_at, refresh_expires_at, renew_by FROM connections WHERE id = $1`, id).
		Scan(&version, &sealed, &st.Status, &st.LastError, &next, &updated, &refreshExp, &renewBy)
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
	if refreshExp != nil {
		st.RefreshExpiresAt = *refreshExp
	}
	if renewBy != nil {
		st.RenewBy = *renewBy
	}
	return Record{Credentials: creds, Version: version, State: st}, nil
}

// SetState implements Store: the state and the event it means (events.go)
// in one transaction; the row lock orders concurrent writers, so each sees
// the state the previous one left.
func (p *Postgres) SetState(ctx context.Context, id string, st State) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var old State
		var info ConnectionInfo
		var known bool
		err := tx.QueryRow(ctx, `SELECT c.status, c.last_error, i.id IS NOT NULL, COALESCE(i.connector, ''), COALESCE(i.option_key, ''), COALESCE(i.account, '')
			FROM connections c LEFT JOIN connection_info i ON i.id = c.id WHERE c.id = $1 FOR UPDATE OF c`, id).
			Scan(&old.Status, &old.LastError, &known, &info.Connector, &info.Option, &info.Account)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET status = $1, last_error = $2, next_refresh = $3, state_updated_at = now(),
			refresh_expires_at = $4, renew_by = $5 WHERE id = $6`,
			st.Status, st.LastError, nullTime(st.NextRefresh), nullTime(st.RefreshExpiresAt), nullTime(st.RenewBy), id); err != nil {
			return err
		}
		if typ := stateEvent(old, st); typ != "" && known {
			info.ID = id
			return postgresInsertEvent(ctx, tx, newEvent(typ, info, st.Status, st.LastError))
		}
		return nil
	})
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

// PutConnection implements Catalog: a connection new to the catalog is
// written with its connection.created event, in one transaction (xmax = 0:
// the upsert inserted the row, so of two writers only one sees it new).
func (p *Postgres) PutConnection(ctx context.Context, info ConnectionInfo) error {
	info, err := prepareInfo(info)
	if err != nil {
		return err
	}
	sealed, err := sealInput(p.cipher, info.ID, info.Input)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var inserted bool
		err := tx.QueryRow(ctx, `INSERT INTO connection_info (id, connector, option_key, account, input, created_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET connector = EXCLUDED.connector, option_key = EXCLUDED.option_key, account = EXCLUDED.account,
				input = EXCLUDED.input, created_at = EXCLUDED.created_at
			RETURNING xmax = 0`,
			info.ID, info.Connector, info.Option, info.Account, sealed, info.CreatedAt).Scan(&inserted)
		if err != nil || !inserted {
			return err
		}
		var status string
		if err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT status FROM connections WHERE id = $1), '')`, info.ID).Scan(&status); err != nil {
			return err
		}
		return postgresInsertEvent(ctx, tx, newEvent(EventCreated, info, status, ""))
	})
}

const postgresInfoColumns = `id, connector, option_key, account, input, created_at`

// scanInfo reads one connection_info row (postgresInfoColumns) and opens its input.
func (p *Postgres) scanInfo(row pgx.Row) (ConnectionInfo, error) {
	var info ConnectionInfo
	var sealed string
	if err := row.Scan(&info.ID, &info.Connector, &info.Option, &info.Account, &sealed, &info.CreatedAt); err != nil {
		return ConnectionInfo{}, err
	}
	info.CreatedAt = info.CreatedAt.UTC()
	var err error
	if info.Input, err = openInput(p.cipher, info.ID, sealed); err != nil {
		return info, fmt.Errorf("store: input of connection %s: %w", info.ID, err)
	}
	return info, nil
}

// GetConnection implements Catalog.
func (p *Postgres) GetConnection(ctx context.Context, id string) (ConnectionInfo, error) {
	info, err := p.scanInfo(p.pool.QueryRow(ctx, `SELECT `+postgresInfoColumns+` FROM connection_info WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ConnectionInfo{}, ErrNotFound
	}
	if err != nil {
		return ConnectionInfo{}, err
	}
	return info, nil
}

// ListConnections implements Catalog. IDs compare bytewise (COLLATE "C"),
// as in the other stores, whatever the database's collation.
func (p *Postgres) ListConnections(ctx context.Context, account string) ([]ConnectionInfo, error) {
	query, args := `SELECT `+postgresInfoColumns+` FROM connection_info ORDER BY created_at, id COLLATE "C"`, []any(nil)
	if account != "" {
		query, args = `SELECT `+postgresInfoColumns+` FROM connection_info WHERE account = $1 ORDER BY created_at, id COLLATE "C"`, []any{account}
	}
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ConnectionInfo{}
	for rows.Next() {
		info, err := p.scanInfo(rows)
		if err != nil && info.ID == "" {
			return nil, err
		}
		info.Unreadable = err
		out = append(out, info)
	}
	return out, rows.Err()
}

// DeleteConnection implements Catalog: the info and the credentials row
// (which holds the state) go in one transaction.
func (p *Postgres) DeleteConnection(ctx context.Context, id string) error {
	var deleted int64
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		info := ConnectionInfo{ID: id}
		var status string
		err := tx.QueryRow(ctx, `DELETE FROM connection_info WHERE id = $1 RETURNING connector, option_key, account, COALESCE((SELECT status FROM connections WHERE id = $1), '')`, id).
			Scan(&info.Connector, &info.Option, &info.Account, &status)
		switch {
		case err == nil:
			deleted++
			if err := postgresInsertEvent(ctx, tx, newEvent(EventDeleted, info, status, "")); err != nil {
				return err
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		for _, q := range []string{`DELETE FROM connections WHERE id = $1`} {
			tag, err := tx.Exec(ctx, q, id)
			if err != nil {
				return err
			}
			deleted += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if deleted == 0 {
		return ErrNotFound
	}
	return nil
}

// Lock takes the connection's advisory lock, held on one pooled connection
// until unlock is called: instances renewing the same connection queue up
// here, and each re-reads the store once it has the lock.
func (p *Postgres) Lock(ctx context.Context, id string) (unlock func(), err error) {
	conn, err := p.locks.Acquire(ctx)
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

// Rekey re-seals every value sealed with an old key of the cipher with the
// current one and returns how many it re-sealed. Servers may keep running:
// a row written meanwhile is left alone, it is sealed with the current key.
func (p *Postgres) Rekey(ctx context.Context) (int, error) { return rekey(ctx, p.cipher, p) }

// sealedValues implements rekeyTarget; table and column are constants of
// sealedColumns, never input.
func (p *Postgres) sealedValues(ctx context.Context, table, column string) ([]sealedValue, error) {
	rows, err := p.pool.Query(ctx, `SELECT id, `+column+` FROM `+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sealedValue
	for rows.Next() {
		var v sealedValue
		if err := rows.Scan(&v.id, &v.sealed); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// replaceSealed implements rekeyTarget.
func (p *Postgres) replaceSealed(ctx context.Context, table, column, id, old, sealed string) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE `+table+` SET `+column+` = $1 WHERE id = $2 AND `+column+` = $3`, sealed, id, old)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Use implements UseOnce: one conditional insert, so of two instances using
// the same key at once exactly one succeeds.
func (p *Postgres) Use(ctx context.Context, key string, until time.Time) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM used_keys WHERE expires_at < now()`); err != nil {
		return err
	}
	tag, err := p.pool.Exec(ctx, `INSERT INTO used_keys (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, until)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrUsed
	}
	return nil
}

// Used implements UseOnce.
func (p *Postgres) Used(ctx context.Context, key string) (bool, error) {
	var used bool
	err := p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM used_keys WHERE key = $1 AND expires_at >= now())`, key).Scan(&used)
	return used, err
}
