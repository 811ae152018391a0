package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// APIKey is a stored API key of `connspec serve`: never the key itself,
// only its SHA-256 hash (see server.NewAPIKey for why that is enough).
type APIKey struct {
	ID     string
	Name   string
	Hash   string // hex SHA-256 of the whole key
	Scopes []string
	// Account and Connector limit the key to one account or connector ("": any).
	Account   string
	Connector string
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key works
	// LastUsedAt is coarse: written at most once a minute per key.
	LastUsedAt time.Time
}

// APIKeys keeps API keys. Implementations are safe for concurrent use.
type APIKeys interface {
	// PutAPIKey inserts a new key; an ID already stored is an error.
	PutAPIKey(ctx context.Context, k APIKey) error
	// GetAPIKey returns a key by ID, revoked or not, or ErrNotFound.
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys returns every key, revoked ones included, oldest first.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey marks a key revoked at the given time (an already revoked
	// key keeps its first time); ErrNotFound when there is no such key.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey records that a key was used at the given time.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

var (
	_ APIKeys = (*Memory)(nil)
	_ APIKeys = (*SQLite)(nil)
	_ APIKeys = (*Postgres)(nil)
)

// errKeyExists: PutAPIKey was given an ID that is taken.
var errKeyExists = errors.New("store: an API key with this ID exists")

func prepareKey(k APIKey) (APIKey, error) {
	if k.ID == "" || k.Hash == "" || len(k.Scopes) == 0 {
		return k, errors.New("store: an API key needs an ID, a hash and scopes")
	}
	for _, s := range k.Scopes {
		if s == "" || strings.Contains(s, ",") {
			return k, errors.New("store: an API key scope cannot be empty or hold a comma")
		}
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	k.CreatedAt = k.CreatedAt.UTC().Truncate(time.Microsecond)
	k.Scopes = slices.Clone(k.Scopes)
	return k, nil
}

// PutAPIKey implements APIKeys.
func (m *Memory) PutAPIKey(_ context.Context, k APIKey) error {
	k, err := prepareKey(k)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]APIKey{}
	}
	if _, ok := m.keys[k.ID]; ok {
		return errKeyExists
	}
	m.keys[k.ID] = k
	return nil
}

// GetAPIKey implements APIKeys.
func (m *Memory) GetAPIKey(_ context.Context, id string) (APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return APIKey{}, ErrNotFound
	}
	k.Scopes = slices.Clone(k.Scopes)
	return k, nil
}

// ListAPIKeys implements APIKeys.
func (m *Memory) ListAPIKeys(_ context.Context) ([]APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []APIKey{}
	for _, k := range m.keys {
		k.Scopes = slices.Clone(k.Scopes)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b APIKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeAPIKey implements APIKeys.
func (m *Memory) RevokeAPIKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return ErrNotFound
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = at.UTC().Truncate(time.Microsecond)
		m.keys[id] = k
	}
	return nil
}

// TouchAPIKey implements APIKeys.
func (m *Memory) TouchAPIKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[id]; ok {
		k.LastUsedAt = at.UTC().Truncate(time.Microsecond)
		m.keys[id] = k
	}
	return nil
}

const keyColumns = `id, name, hash, scopes, account, connector, created_at, revoked_at, last_used_at`

// sqliteTime formats t for a nullable SQLite time column.
func sqliteTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(sqliteTimeFormat)
}

func (s *SQLite) scanKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var scopes, created string
	var revoked, used sql.NullString
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &k.Account, &k.Connector, &created, &revoked, &used); err != nil {
		return APIKey{}, err
	}
	k.Scopes = strings.Split(scopes, ",")
	var err error
	if k.CreatedAt, err = time.Parse(sqliteTimeFormat, created); err != nil {
		return APIKey{}, errors.New("store: an API key's created_at is not a time")
	}
	for _, c := range []struct {
		v  sql.NullString
		to *time.Time
	}{{revoked, &k.RevokedAt}, {used, &k.LastUsedAt}} {
		if c.v.Valid {
			if *c.to, err = time.Parse(sqliteTimeFormat, c.v.String); err != nil {
				return APIKey{}, errors.New("store: an API key's time is not a time")
			}
		}
	}
	return k, nil
}

// PutAPIKey implements APIKeys.
func (s *SQLite) PutAPIKey(ctx context.Context, k APIKey) error {
	k, err := prepareKey(k)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Name, k.Hash, strings.Join(k.Scopes, ","), k.Account, k.Connector, k.CreatedAt.Format(sqliteTimeFormat))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errKeyExists
	}
	return nil
}

// GetAPIKey implements APIKeys.
func (s *SQLite) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	k, err := s.scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrNotFound
	}
	return k, err
}

// ListAPIKeys implements APIKeys.
func (s *SQLite) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		k, err := s.scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements APIKeys.
func (s *SQLite) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, sqliteTime(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// TouchAPIKey implements APIKeys.
func (s *SQLite) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, sqliteTime(at), id)
	return err
}

func (p *Postgres) scanKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	var scopes string
	var revoked, used *time.Time
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &k.Account, &k.Connector, &k.CreatedAt, &revoked, &used); err != nil {
		return APIKey{}, err
	}
	k.Scopes = strings.Split(scopes, ",")
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	if used != nil {
		k.LastUsedAt = used.UTC()
	}
	return k, nil
}

// PutAPIKey implements APIKeys.
func (p *Postgres) PutAPIKey(ctx context.Context, k APIKey) error {
	k, err := prepareKey(k)
	if err != nil {
		return err
	}
	tag, err := p.pool.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Name, k.Hash, strings.Join(k.Scopes, ","), k.Account, k.Connector, k.CreatedAt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return errKeyExists
	}
	return nil
}

// GetAPIKey implements APIKeys.
func (p *Postgres) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	k, err := p.scanKey(p.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrNotFound
	}
	return k, err
}

// ListAPIKeys implements APIKeys.
func (p *Postgres) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		k, err := p.scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements APIKeys.
func (p *Postgres) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	tag, err := p.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, at.UTC(), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrNotFound
	}
	return nil
}

// TouchAPIKey implements APIKeys.
func (p *Postgres) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := p.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, at.UTC(), id)
	return err
}
