package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	// The Catalog: input is sealed like credentials; created_at is
	// sqliteTimeFormat, fixed width so that text order is time order.
	`CREATE TABLE connection_info (
		id         TEXT PRIMARY KEY,
		connector  TEXT NOT NULL,
		option_key TEXT NOT NULL DEFAULT '',
		account    TEXT NOT NULL DEFAULT '',
		input      TEXT NOT NULL,
		created_at TEXT NOT NULL
	)`,
	`CREATE INDEX connection_info_account ON connection_info (account, created_at)`,
	// Renewal leases: processes sharing the file renew a connection one at
	// a time (see Lock); expires_at is unix milliseconds.
	`CREATE TABLE renewal_leases (
		id         TEXT PRIMARY KEY,
		owner      TEXT NOT NULL,
		expires_at INTEGER NOT NULL
	)`,
	// Single-use keys (UseOnce): consumed OAuth flows and connect links;
	// expires_at is unix milliseconds.
	`CREATE TABLE used_keys (
		key        TEXT PRIMARY KEY,
		expires_at INTEGER NOT NULL
	)`,
	`CREATE INDEX used_keys_expires ON used_keys (expires_at)`,
	// API keys of serve: hash is the hex SHA-256 of the key, never the key;
	// scopes are comma-separated; times are sqliteTimeFormat or NULL.
	`CREATE TABLE api_keys (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		hash         TEXT NOT NULL,
		scopes       TEXT NOT NULL,
		account      TEXT NOT NULL DEFAULT '',
		connector    TEXT NOT NULL DEFAULT '',
		created_at   TEXT NOT NULL,
		revoked_at   TEXT,
		last_used_at TEXT
	)`,
	// The outbox (events.go): written in the transaction of the change an
	// event describes; times are unix microseconds (created_at) and
	// milliseconds (next_attempt_at, lease_until).
	`CREATE TABLE events (
		seq             INTEGER PRIMARY KEY AUTOINCREMENT,
		id              TEXT NOT NULL UNIQUE,
		type            TEXT NOT NULL,
		connection_id   TEXT NOT NULL,
		connector       TEXT NOT NULL DEFAULT '',
		option_key      TEXT NOT NULL DEFAULT '',
		account         TEXT NOT NULL DEFAULT '',
		status          TEXT NOT NULL DEFAULT '',
		error           TEXT NOT NULL DEFAULT '',
		created_at      INTEGER NOT NULL,
		delivery        TEXT NOT NULL DEFAULT 'pending',
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at INTEGER NOT NULL,
		lease_owner     TEXT NOT NULL DEFAULT '',
		lease_until     INTEGER NOT NULL DEFAULT 0,
		redelivered_at  INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX events_due ON events (delivery, next_attempt_at)`,
	`CREATE TABLE event_attempts (
		event_id    TEXT NOT NULL,
		url         TEXT NOT NULL,
		at          INTEGER NOT NULL,
		status_code INTEGER NOT NULL,
		error       TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX event_attempts_event ON event_attempts (event_id, at)`,
	// Background renewal (renewal.go): unix milliseconds, 0 when unknown,
	// so that comparisons in SQL are numeric. Claims are leases in
	// renewal_leases under renewClaimPrefix.
	`ALTER TABLE connections ADD COLUMN refresh_expires_ms INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE connections ADD COLUMN renew_by_ms INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE connections ADD COLUMN next_refresh_ms INTEGER NOT NULL DEFAULT 0`,
	`CREATE INDEX connections_renew_by ON connections (renew_by_ms) WHERE renew_by_ms > 0`,
	`CREATE INDEX connections_next_refresh ON connections (next_refresh_ms) WHERE next_refresh_ms > 0`,
	// When the credentials and the state were last written (unix ms): a
	// state older than the credentials is not trusted to say what is due.
	`ALTER TABLE connections ADD COLUMN credentials_ms INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE connections ADD COLUMN state_ms INTEGER NOT NULL DEFAULT 0`,
}

var (
	_ Store   = (*SQLite)(nil)
	_ Catalog = (*SQLite)(nil)
	_ Locker  = (*SQLite)(nil)
	_ UseOnce = (*SQLite)(nil)
)

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
	// Created private: SQLite would make it 0644 (less the umask), and its
	// -wal and -shm companions take the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("store: creating %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
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
	var refreshExp, renewBy int64
	err := s.db.QueryRowContext(ctx, `SELECT version, credentials, status, last_error, next_refresh, state_updated_at, refresh_expires_ms, renew_by_ms FROM connections WHERE id = ?`, id).
		Scan(&version, &sealed, &status, &lastError, &next, &updated, &refreshExp, &renewBy)
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
	st.RefreshExpiresAt, st.RenewBy = fromMillis(refreshExp), fromMillis(renewBy)
	return Record{Credentials: creds, Version: version, State: st}, nil
}

// SetState implements Store: the state and the event it means (events.go)
// in one transaction.
func (s *SQLite) SetState(ctx context.Context, id string, st State) error {
	next := ""
	if !st.NextRefresh.IsZero() {
		next = st.NextRefresh.UTC().Format(time.RFC3339Nano)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var old State
	var info ConnectionInfo
	var known bool
	err = tx.QueryRowContext(ctx, `SELECT c.status, c.last_error, i.id IS NOT NULL, COALESCE(i.connector, ''), COALESCE(i.option_key, ''), COALESCE(i.account, '')
		FROM connections c LEFT JOIN connection_info i ON i.id = c.id WHERE c.id = ?`, id).
		Scan(&old.Status, &old.LastError, &known, &info.Connector, &info.Option, &info.Account)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE connections SET status = ?, last_error = ?, next_refresh = ?, state_updated_at = ?,
		next_refresh_ms = ?, refresh_expires_ms = ?, renew_by_ms = ?, state_ms = ? WHERE id = ?`,
		st.Status, st.LastError, next, now.UTC().Format(time.RFC3339Nano),
		toMillis(st.NextRefresh), toMillis(st.RefreshExpiresAt), toMillis(st.RenewBy), now.UnixMilli(), id); err != nil {
		return err
	}
	if typ := stateEvent(old, st); typ != "" && known {
		info.ID = id
		if err := sqliteInsertEvent(ctx, tx, newEvent(typ, info, st.Status, st.LastError)); err != nil {
			return err
		}
	}
	return tx.Commit()
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
	now := time.Now()
	stamp, ms := now.UTC().Format(time.RFC3339Nano), now.UnixMilli()
	var res sql.Result
	if expected == 0 {
		res, err = s.db.ExecContext(ctx, `INSERT INTO connections (id, version, credentials, updated_at, credentials_ms) VALUES (?, 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, sealed, stamp, ms)
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE connections SET version = version + 1, credentials = ?, updated_at = ?, credentials_ms = ? WHERE id = ? AND version = ?`, sealed, stamp, ms, id, expected)
	}
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return 0, ErrConflict
	}
	return expected + 1, nil
}

// Rekey re-seals every sealed value (credentials and connection input)
// with the cipher's current key, after a key rotation: NewCipher(newKey,
// oldKey). Values sealed with the current key are left alone; versions do
// not change. It returns how many values it re-sealed.
func (s *SQLite) Rekey(ctx context.Context) (int, error) { return rekey(ctx, s.cipher, s) }

// sealedValues implements rekeyTarget; table and column are constants of
// sealedColumns, never input.
func (s *SQLite) sealedValues(ctx context.Context, table, column string) ([]sealedValue, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, `+column+` FROM `+table)
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
func (s *SQLite) replaceSealed(ctx context.Context, table, column, id, old, sealed string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE `+table+` SET `+column+` = ? WHERE id = ? AND `+column+` = ?`, sealed, id, old)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// sqliteTimeFormat is how the catalog keeps times: UTC, microseconds, fixed
// width (for years 1 to 9999), so ORDER BY on the text is time order.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000Z"

// PutConnection implements Catalog: a connection new to the catalog is
// written with its connection.created event, in one transaction.
func (s *SQLite) PutConnection(ctx context.Context, info ConnectionInfo) error {
	info, err := prepareInfo(info)
	if err != nil {
		return err
	}
	sealed, err := sealInput(s.cipher, info.ID, info.Input)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var known bool
	var status string
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM connection_info WHERE id = ?), COALESCE((SELECT status FROM connections WHERE id = ?), '')`, info.ID, info.ID).
		Scan(&known, &status); err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO connection_info (id, connector, option_key, account, input, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET connector = excluded.connector, option_key = excluded.option_key, account = excluded.account,
			input = excluded.input, created_at = excluded.created_at`,
		info.ID, info.Connector, info.Option, info.Account, sealed, info.CreatedAt.Format(sqliteTimeFormat)); err != nil {
		return err
	}
	if !known {
		if err := sqliteInsertEvent(ctx, tx, newEvent(EventCreated, info, status, "")); err != nil {
			return err
		}
	}
	return tx.Commit()
}

const sqliteInfoColumns = `id, connector, option_key, account, input, created_at`

// scanInfo reads one connection_info row (sqliteInfoColumns) and opens its
// input. When the row is damaged it returns what it could read with the error.
func (s *SQLite) scanInfo(row interface{ Scan(...any) error }) (ConnectionInfo, error) {
	var info ConnectionInfo
	var id, connector, option, account, sealed, created sql.NullString
	if err := row.Scan(&id, &connector, &option, &account, &sealed, &created); err != nil {
		return ConnectionInfo{}, err
	}
	info.ID, info.Connector, info.Option, info.Account = id.String, connector.String, option.String, account.String
	t, err := time.Parse(sqliteTimeFormat, created.String)
	if err != nil {
		return info, fmt.Errorf("store: connection %s: malformed created_at", info.ID)
	}
	info.CreatedAt = t.UTC()
	if info.Input, err = openInput(s.cipher, info.ID, sealed.String); err != nil {
		return info, fmt.Errorf("store: input of connection %s: %w", info.ID, err)
	}
	return info, nil
}

// GetConnection implements Catalog.
func (s *SQLite) GetConnection(ctx context.Context, id string) (ConnectionInfo, error) {
	info, err := s.scanInfo(s.db.QueryRowContext(ctx, `SELECT `+sqliteInfoColumns+` FROM connection_info WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ConnectionInfo{}, ErrNotFound
	}
	if err != nil {
		return ConnectionInfo{}, err
	}
	return info, nil
}

// ListConnections implements Catalog.
func (s *SQLite) ListConnections(ctx context.Context, account string) ([]ConnectionInfo, error) {
	query, args := `SELECT `+sqliteInfoColumns+` FROM connection_info ORDER BY created_at, id`, []any(nil)
	if account != "" {
		query, args = `SELECT `+sqliteInfoColumns+` FROM connection_info WHERE account = ? ORDER BY created_at, id`, []any{account}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ConnectionInfo{}
	for rows.Next() {
		info, err := s.scanInfo(rows)
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
func (s *SQLite) DeleteConnection(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	info := ConnectionInfo{ID: id}
	var status string
	known := true
	err = tx.QueryRowContext(ctx, `SELECT connector, option_key, account, COALESCE((SELECT status FROM connections WHERE id = ?), '') FROM connection_info WHERE id = ?`, id, id).
		Scan(&info.Connector, &info.Option, &info.Account, &status)
	if errors.Is(err, sql.ErrNoRows) {
		known = false
	} else if err != nil {
		return err
	}
	if known {
		if err := sqliteInsertEvent(ctx, tx, newEvent(EventDeleted, info, status, "")); err != nil {
			return err
		}
	}
	var deleted int64
	for _, q := range []string{`DELETE FROM connection_info WHERE id = ?`, `DELETE FROM connections WHERE id = ?`} {
		res, err := tx.ExecContext(ctx, q, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		deleted += n
	}
	if deleted == 0 {
		return ErrNotFound
	}
	// Its background-renewal claim goes too (renewal.go).
	if _, err := tx.ExecContext(ctx, `DELETE FROM renewal_leases WHERE id = ?`, renewClaimPrefix+id); err != nil {
		return err
	}
	return tx.Commit()
}

// leaseTTL bounds how long a crashed process can hold a renewal lease: longer
// than the engine's token request timeout (30 s), so a live holder never
// loses its lease mid-request.
const leaseTTL = time.Minute

// Lock takes the connection's renewal lease in the database file, so that
// processes sharing the file (several `connspec serve`, or a CLI next to
// one) renew a connection one at a time and re-read the store before they
// spend a refresh token. A lease left by a crashed process expires after
// leaseTTL.
func (s *SQLite) Lock(ctx context.Context, id string) (unlock func(), err error) {
	owner := make([]byte, 16)
	rand.Read(owner)
	tag := hex.EncodeToString(owner)
	wait := 5 * time.Millisecond
	for {
		now := time.Now()
		res, err := s.db.ExecContext(ctx, `INSERT INTO renewal_leases (id, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE renewal_leases.expires_at < ?`, id, tag, now.Add(leaseTTL).UnixMilli(), now.UnixMilli())
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return func() {
				s.db.ExecContext(context.Background(), `DELETE FROM renewal_leases WHERE id = ? AND owner = ?`, id, tag)
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// Use implements UseOnce: one conditional insert, so of two servers using
// the same key at once exactly one succeeds.
func (s *SQLite) Use(ctx context.Context, key string, until time.Time) error {
	now := time.Now().UnixMilli()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM used_keys WHERE expires_at < ?`, now); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO used_keys (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, until.UnixMilli())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrUsed
	}
	return nil
}

// Used implements UseOnce.
func (s *SQLite) Used(ctx context.Context, key string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM used_keys WHERE key = ? AND expires_at >= ?`, key, time.Now().UnixMilli()).Scan(&n)
	return n > 0, err
}
