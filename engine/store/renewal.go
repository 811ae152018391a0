package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Claim is a connection claimed for background renewal by one instance:
// no other instance claims it until the claim is released or lapses.
type Claim struct {
	ID string
	// Version is the credentials' version when the connection was found
	// due: a renewer that finds another version renewed meanwhile.
	Version int64
	// token tells this claim from a later one of the same connection.
	token string
}

// DueQuery says which connections are due for background renewal: those
// whose refresh token must be renewed by now (State.RenewBy), and, when
// keep-fresh is on, those whose planned renewal (State.NextRefresh) falls
// within FreshAhead. Connections that need a new authorization are never
// due.
type DueQuery struct {
	// Limit bounds the claims of one call (at least 1).
	Limit int
	// ClaimFor is how long a claim lasts unless released: long enough to
	// renew the whole batch; an instance killed meanwhile loses its claims
	// after it, and another instance takes them.
	ClaimFor time.Duration
	// FreshAhead is the keep-fresh window; FreshAll keeps every connection
	// fresh, FreshConnectors those of the connectors named.
	FreshAhead      time.Duration
	FreshAll        bool
	FreshConnectors []string
}

func (q DueQuery) fresh() bool { return q.FreshAll || len(q.FreshConnectors) > 0 }

func (q DueQuery) check() error {
	if q.Limit < 1 || q.ClaimFor <= 0 {
		return errors.New("store: a due query needs a positive Limit and ClaimFor")
	}
	return nil
}

// RenewalQueue is a Store that hands out connections due for background
// renewal, each to one instance at a time (engine.RunRenewal). The Memory,
// SQLite and PostgreSQL stores implement it.
type RenewalQueue interface {
	// ClaimDue claims up to q.Limit due connections, earliest due first.
	ClaimDue(ctx context.Context, q DueQuery) ([]Claim, error)
	// Release ends a claim; hold > 0 keeps the connection from being
	// claimed again for that long (a retry's backoff, or a renewal that
	// left it inside the keep-fresh window).
	Release(ctx context.Context, c Claim, hold time.Duration) error
}

var (
	_ RenewalQueue = (*Memory)(nil)
	_ RenewalQueue = (*SQLite)(nil)
	_ RenewalQueue = (*Postgres)(nil)
)

func newClaimToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// toMillis and fromMillis convert the SQLite store's times: unix
// milliseconds, 0 for the zero time.
func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// memClaim is a claim of the Memory store.
type memClaim struct {
	token string
	until time.Time
}

// ClaimDue implements RenewalQueue.
func (m *Memory) ClaimDue(_ context.Context, q DueQuery) ([]Claim, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	type due struct {
		id string
		at time.Time
	}
	var found []due
	for id, r := range m.records {
		info, ok := m.infos[id]
		if !ok || r.State.Status == StatusNeedsReauth {
			continue
		}
		if c, ok := m.claims[id]; ok && !c.until.Before(now) {
			continue
		}
		st := r.State
		switch {
		case !st.RenewBy.IsZero() && !st.RenewBy.After(now):
			found = append(found, due{id, st.RenewBy})
		case q.fresh() && !st.NextRefresh.IsZero() && !st.NextRefresh.After(now.Add(q.FreshAhead)) &&
			(q.FreshAll || slices.Contains(q.FreshConnectors, info.Connector)):
			found = append(found, due{id, st.NextRefresh})
		}
	}
	slices.SortFunc(found, func(a, b due) int { return a.at.Compare(b.at) })
	if m.claims == nil {
		m.claims = map[string]memClaim{}
	}
	var out []Claim
	for _, d := range found[:min(len(found), q.Limit)] {
		c := Claim{ID: d.id, Version: m.records[d.id].Version, token: newClaimToken()}
		m.claims[d.id] = memClaim{token: c.token, until: now.Add(q.ClaimFor)}
		out = append(out, c)
	}
	return out, nil
}

// Release implements RenewalQueue.
func (m *Memory) Release(_ context.Context, c Claim, hold time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mc, ok := m.claims[c.ID]; ok && mc.token == c.token {
		if hold > 0 {
			m.claims[c.ID] = memClaim{token: c.token, until: time.Now().Add(hold)}
		} else {
			delete(m.claims, c.ID)
		}
	}
	return nil
}

// renewClaimPrefix keeps background-renewal claims apart from the renewal
// locks of Lock in renewal_leases (whose ids are bare connection ids).
const renewClaimPrefix = "renew-claim\x1f"

// ClaimDue implements RenewalQueue: one statement takes the leases of the
// due connections that have none, so two processes sharing the file never
// claim the same connection; a lease lapses after q.ClaimFor.
func (s *SQLite) ClaimDue(ctx context.Context, q DueQuery) ([]Claim, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	token := newClaimToken()
	now := time.Now().UnixMilli()
	list := "," + strings.Join(q.FreshConnectors, ",") + ","
	_, err := s.db.ExecContext(ctx, sqliteClaimDue,
		renewClaimPrefix, token, now+q.ClaimFor.Milliseconds(), StatusNeedsReauth,
		now, q.fresh(), now+q.FreshAhead.Milliseconds(), q.FreshAll, list, q.Limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.version FROM renewal_leases l JOIN connections c ON c.id = substr(l.id, ?1)
		WHERE l.owner = ?2
		ORDER BY CASE WHEN c.renew_by_ms > 0 AND c.renew_by_ms <= ?3 THEN c.renew_by_ms ELSE c.next_refresh_ms END`,
		len(renewClaimPrefix)+1, token, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		c := Claim{token: token}
		if err := rows.Scan(&c.ID, &c.Version); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Release implements RenewalQueue.
func (s *SQLite) Release(ctx context.Context, c Claim, hold time.Duration) error {
	var err error
	if hold > 0 {
		_, err = s.db.ExecContext(ctx, `UPDATE renewal_leases SET expires_at = ? WHERE id = ? AND owner = ?`,
			time.Now().Add(hold).UnixMilli(), renewClaimPrefix+c.ID, c.token)
	} else {
		_, err = s.db.ExecContext(ctx, `DELETE FROM renewal_leases WHERE id = ? AND owner = ?`, renewClaimPrefix+c.ID, c.token)
	}
	return err
}

// ClaimDue implements RenewalQueue: the due rows are locked with FOR
// UPDATE SKIP LOCKED and marked claimed in one statement, so instances
// claiming at once split the due connections between them; the database's
// clock decides, so the instances' clocks need not agree.
func (p *Postgres) ClaimDue(ctx context.Context, q DueQuery) ([]Claim, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	token := newClaimToken()
	connectors := q.FreshConnectors
	if connectors == nil {
		connectors = []string{}
	}
	rows, err := p.pool.Query(ctx, postgresClaimDue,
		token, q.ClaimFor.Milliseconds(), StatusNeedsReauth, q.fresh(), q.FreshAhead.Milliseconds(), q.FreshAll, connectors, q.Limit)
	if err != nil {
		return nil, err
	}
	type claimed struct {
		ID      string
		Version int64
		DueAt   time.Time
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[claimed])
	if err != nil {
		return nil, err
	}
	// UPDATE ... RETURNING has no order: earliest due first again.
	slices.SortFunc(got, func(a, b claimed) int { return a.DueAt.Compare(b.DueAt) })
	out := make([]Claim, len(got))
	for i, c := range got {
		out[i] = Claim{ID: c.ID, Version: c.Version, token: token}
	}
	return out, nil
}

// Release implements RenewalQueue.
func (p *Postgres) Release(ctx context.Context, c Claim, hold time.Duration) error {
	_, err := p.pool.Exec(ctx, `UPDATE connections SET renew_claim_until = CASE WHEN $1::float8 > 0 THEN now() + $1::float8 * interval '1 millisecond' END
		WHERE id = $2 AND renew_claim_owner = $3`, hold.Milliseconds(), c.ID, c.token)
	return err
}

// sqliteClaimDue is SQLite.ClaimDue's claim; its due rows are found through
// the partial indexes connections_renew_by and connections_next_refresh
// (TestClaimDueUsesTheRenewalIndexesSQLite).
const sqliteClaimDue = `INSERT INTO renewal_leases (id, owner, expires_at)
		SELECT ?1 || c.id, ?2, ?3 FROM connections c JOIN connection_info i ON i.id = c.id
		WHERE c.status <> ?4 AND c.state_ms >= c.credentials_ms
			AND ((c.renew_by_ms > 0 AND c.renew_by_ms <= ?5)
				OR (?6 AND c.next_refresh_ms > 0 AND c.next_refresh_ms <= ?7 AND (?8 OR instr(?9, ',' || i.connector || ',') > 0)))
			AND NOT EXISTS (SELECT 1 FROM renewal_leases l WHERE l.id = ?1 || c.id AND l.expires_at >= ?5)
		ORDER BY CASE WHEN c.renew_by_ms > 0 AND c.renew_by_ms <= ?5 THEN c.renew_by_ms ELSE c.next_refresh_ms END
		LIMIT ?10
		ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE renewal_leases.expires_at < ?5`

// postgresClaimDue is Postgres.ClaimDue's claim; its due rows are found
// through the partial indexes connections_renew_by and
// connections_next_refresh (TestClaimDueUsesTheRenewalIndexesPostgres).
const postgresClaimDue = `WITH due AS (
			SELECT c.id, CASE WHEN c.renew_by <= now() THEN c.renew_by ELSE c.next_refresh END AS due_at
			FROM connections c JOIN connection_info i ON i.id = c.id
			WHERE c.status <> $3 AND c.state_updated_at >= c.updated_at
				AND (c.renew_claim_until IS NULL OR c.renew_claim_until < now())
				AND (c.renew_by <= now()
					OR ($4 AND c.next_refresh <= now() + $5::float8 * interval '1 millisecond' AND ($6 OR i.connector = ANY($7))))
			ORDER BY due_at
			LIMIT $8
			FOR UPDATE OF c SKIP LOCKED)
		UPDATE connections SET renew_claim_owner = $1, renew_claim_until = now() + $2::float8 * interval '1 millisecond'
		FROM due WHERE connections.id = due.id
		RETURNING connections.id, connections.version, due.due_at`
