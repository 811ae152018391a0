package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Imported is one connection written by Import: its catalog entry, its
// credentials (stored at version 1) and its state.
type Imported struct {
	Info        ConnectionInfo
	Credentials map[string]any
	State       State
}

// Importer is a store that writes many new connections in one transaction
// (moving connections from another store, load tests): 100,000 connections
// take seconds where one CompareAndSwap, PutConnection and SetState each
// would take minutes. The SQLite and PostgreSQL stores implement it.
type Importer interface {
	// Import writes every connection or none. A connection whose ID is
	// already stored fails the whole import, naming it: an import never
	// overwrites credentials. No events are written: the connections are
	// not new to the application that made them.
	Import(ctx context.Context, conns []Imported) error
}

var (
	_ Importer = (*SQLite)(nil)
	_ Importer = (*Postgres)(nil)
)

// sealImported seals one connection's credentials and input.
func sealImported(c *Cipher, in Imported) (info ConnectionInfo, creds, input string, err error) {
	info, err = prepareInfo(in.Info)
	if err != nil {
		return info, "", "", err
	}
	if in.Credentials == nil {
		return info, "", "", fmt.Errorf("store: import of connection %s: no credentials", info.ID)
	}
	plain, err := json.Marshal(in.Credentials)
	if err != nil {
		return info, "", "", fmt.Errorf("store: import of connection %s: credentials cannot be encoded as JSON", info.ID)
	}
	if creds, err = c.Seal(plain, info.ID); err != nil {
		return info, "", "", err
	}
	input, err = sealInput(c, info.ID, info.Input)
	return info, creds, input, err
}

func importConflict(id string) error {
	return fmt.Errorf("store: import of connection %s: %w (an import never overwrites)", id, ErrConflict)
}

// Import implements Importer.
func (s *SQLite) Import(ctx context.Context, conns []Imported) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now()
	stamp, ms := now.UTC().Format(time.RFC3339Nano), now.UnixMilli()
	for _, in := range conns {
		info, creds, input, err := sealImported(s.cipher, in)
		if err != nil {
			return err
		}
		st := in.State
		next := ""
		if !st.NextRefresh.IsZero() {
			next = st.NextRefresh.UTC().Format(time.RFC3339Nano)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO connections (id, version, credentials, updated_at, credentials_ms,
				status, last_error, next_refresh, state_updated_at, next_refresh_ms, refresh_expires_ms, renew_by_ms, state_ms)
			VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			info.ID, creds, stamp, ms, st.Status, st.LastError, next, stamp,
			toMillis(st.NextRefresh), toMillis(st.RefreshExpiresAt), toMillis(st.RenewBy), ms)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return importConflict(info.ID)
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO connection_info (id, connector, option_key, account, input, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			info.ID, info.Connector, info.Option, info.Account, input, info.CreatedAt.Format(sqliteTimeFormat))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return importConflict(info.ID)
		}
	}
	return tx.Commit()
}

// Import implements Importer: the rows go in with COPY, in one transaction.
func (p *Postgres) Import(ctx context.Context, conns []Imported) error {
	connRows := make([][]any, 0, len(conns))
	infoRows := make([][]any, 0, len(conns))
	for _, in := range conns {
		info, creds, input, err := sealImported(p.cipher, in)
		if err != nil {
			return err
		}
		st := in.State
		connRows = append(connRows, []any{info.ID, int64(1), creds, st.Status, st.LastError,
			nullTime(st.NextRefresh), nullTime(st.RefreshExpiresAt), nullTime(st.RenewBy)})
		infoRows = append(infoRows, []any{info.ID, info.Connector, info.Option, info.Account, input, info.CreatedAt})
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// state_updated_at = updated_at: the state is as new as the
		// credentials (a claim trusts no state older than them).
		if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE connspec_import (LIKE connections INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"connspec_import"},
			[]string{"id", "version", "credentials", "status", "last_error", "next_refresh", "refresh_expires_at", "renew_by"},
			pgx.CopyFromRows(connRows)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO connections (id, version, credentials, updated_at, status, last_error, next_refresh,
				state_updated_at, refresh_expires_at, renew_by)
			SELECT id, version, credentials, now(), status, last_error, next_refresh, now(), refresh_expires_at, renew_by
			FROM connspec_import ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(len(conns)) {
			var id string
			if err := tx.QueryRow(ctx, `SELECT i.id FROM connspec_import i JOIN connections c ON c.id = i.id AND c.credentials <> i.credentials LIMIT 1`).Scan(&id); err != nil {
				return fmt.Errorf("store: import: %d of %d connections already stored", int64(len(conns))-tag.RowsAffected(), len(conns))
			}
			return importConflict(id)
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"connection_info"},
			[]string{"id", "connector", "option_key", "account", "input", "created_at"}, pgx.CopyFromRows(infoRows))
		if err != nil {
			return err
		}
		if n != int64(len(conns)) {
			return errors.New("store: import: the catalog took fewer rows than given")
		}
		return nil
	})
	return err
}
