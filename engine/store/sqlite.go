package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver
)

// migrations are applied in order, each once; a database remembers how
// many it has seen in schema_migrations.
var sqliteMigrations = []string{
	`CREATE TABLE connections (
		id          TEXT PRIMARY KEY,
		version     INTEGER NOT NULL,
		credentials TEXT NOT NULL,
		updated_at  TEXT NOT NULL
	)`,
	`ALTER TABLE connections ADD COLUMN status TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE connections ADD COLUMN last_error TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE connections ADD COLUMN next_refresh TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE connections ADD COLUMN state_updated_at TEXT NOT NULL DEFAULT ''`,
}

// SQLite is a Store in an SQLite database file: the embedded default.
// Credentials are sealed with the Cipher before they are written.
type SQLite struct {
	db     *sql.DB
	cipher *Cipher
}

// OpenSQLite opens (or creates) the database at path and brings its schema
// up to date.
func OpenSQLite(path string, c *Cipher) (*SQLite, error) {
	if c == nil {
		return nil, errors.New("store: an SQLite store needs a Cipher: credentials are encrypted at rest")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	s := &SQLite{db: db, cipher: c}
	if err := migrate(context.Background(), db, sqliteMigrations); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// migrate applies the migrations a database has not seen, in one
// transaction each.
func migrate(ctx context.Context, db *sql.DB, steps []string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	var done int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&done); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if done > len(steps) {
		return fmt.Errorf("store: the database has schema version %d, newer than this connspec (%d)", done, len(steps))
	}
	for i := done; i < len(steps); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, i+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, id string) (Record, error) {
	var version int64
	var sealed, status, lastError, next, updated string
	err := s.db.QueryRowContext(ctx, `SELECT version, credentials, status, last_error, next_refresh, state_updated_at FROM connections WHERE id = ?`, id).
		Scan(&version, &sealed, &status, &lastError, &next, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	creds, err := s.open(sealed, id)
	if err != nil {
		return Record{}, err
	}
	st := State{Status: status, LastError: lastError}
	st.NextRefresh, _ = time.Parse(time.RFC3339Nano, next)
	st.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return Record{Credentials: creds, Version: version, State: st}, nil
}

// SetState implements Store.
func (s *SQLite) SetState(ctx context.Context, id string, st State) error {
	next := ""
	if !st.NextRefresh.IsZero() {
		next = st.NextRefresh.UTC().Format(time.RFC3339Nano)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE connections SET status = ?, last_error = ?, next_refresh = ?, state_updated_at = ? WHERE id = ?`,
		st.Status, st.LastError, next, time.Now().UTC().Format(time.RFC3339Nano), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

func (s *SQLite) open(sealed, id string) (map[string]any, error) {
	plain, err := s.cipher.Open(sealed, id)
	if err != nil {
		return nil, err
	}
	var creds map[string]any
	if err := json.Unmarshal(plain, &creds); err != nil {
		return nil, errors.New("store: stored credentials are not a JSON object")
	}
	return creds, nil
}

// CompareAndSwap implements Store: one conditional statement, so two
// writers from the same version cannot both succeed.
func (s *SQLite) CompareAndSwap(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	plain, err := json.Marshal(credentials)
	if err != nil {
		return 0, errors.New("store: credentials cannot be encoded as JSON")
	}
	sealed, err := s.cipher.Seal(plain, id)
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var res sql.Result
	if expected == 0 {
		res, err = s.db.ExecContext(ctx, `INSERT INTO connections (id, version, credentials, updated_at) VALUES (?, 1, ?, ?) ON CONFLICT (id) DO NOTHING`, id, sealed, now)
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE connections SET version = version + 1, credentials = ?, updated_at = ? WHERE id = ? AND version = ?`, sealed, now, id, expected)
	}
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return 0, ErrConflict
	}
	return expected + 1, nil
}

// Rekey re-seals every row with the cipher's current key (after a key
// rotation: NewCipher(newKey, oldKey)). Rows sealed with the current key
// are left alone; versions do not change.
func (s *SQLite) Rekey(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, credentials FROM connections`)
	if err != nil {
		return 0, err
	}
	type row struct{ id, sealed string }
	var stale []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.sealed); err != nil {
			rows.Close()
			return 0, err
		}
		if !s.cipher.sealedWithCurrent(r.sealed) {
			stale = append(stale, r)
		}
	}
	rows.Close()
	n := 0
	for _, r := range stale {
		plain, err := s.cipher.Open(r.sealed, r.id)
		if err != nil {
			return n, fmt.Errorf("store: connection %s: %w", r.id, err)
		}
		sealed, err := s.cipher.Seal(plain, r.id)
		if err != nil {
			return n, err
		}
		// Only if the row did not change meanwhile; a newer write is sealed
		// with the current key already.
		if _, err := s.db.ExecContext(ctx, `UPDATE connections SET credentials = ? WHERE id = ? AND credentials = ?`, sealed, r.id, r.sealed); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
