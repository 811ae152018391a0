package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/connspec/connspec/engine/store"
)

// The scopes of an API key.
const (
	// ScopeAdmin allows everything, as CONNSPEC_API_KEY does.
	ScopeAdmin = "admin"
	// ScopeConnect allows creating connect sessions (and reading connectors).
	ScopeConnect = "connect"
	// ScopeProxy allows proxy requests.
	ScopeProxy = "proxy"
)

// KeyPrefix starts every stored API key, so secret scanners recognise one.
const KeyPrefix = "csk_"

// touchEvery is how stale a key's last_used_at may get before a request
// writes it again: coarse, so requests do not each write to the store.
const touchEvery = time.Minute

var keyText = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIKey makes a key and the record to store for it: the key is
// returned once and only its SHA-256 is kept. A plain SHA-256 is enough
// because the key holds 256 random bits: nobody can search that space for
// a preimage, so the slow, salted hashes made for guessable passwords would
// only slow every request down. scopes are ScopeAdmin alone, or ScopeConnect
// and/or ScopeProxy, optionally limited to one account and/or connector.
func NewAPIKey(name string, scopes []string, account, connector string) (key string, rec store.APIKey, err error) {
	if name == "" || len(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", rec, errors.New("a key needs a name of 1 to 200 characters, without control characters")
	}
	if len(scopes) == 0 {
		return "", rec, errors.New("a key needs at least one scope: admin, connect or proxy")
	}
	seen := map[string]bool{}
	for _, s := range scopes {
		if s != ScopeAdmin && s != ScopeConnect && s != ScopeProxy {
			return "", rec, fmt.Errorf("unknown scope %q: the scopes are admin, connect and proxy", s)
		}
		if seen[s] {
			return "", rec, fmt.Errorf("scope %q is given twice", s)
		}
		seen[s] = true
	}
	if seen[ScopeAdmin] && (len(scopes) > 1 || account != "" || connector != "") {
		return "", rec, errors.New("the admin scope allows everything: it cannot be combined with other scopes or limited to an account or connector")
	}
	for _, v := range []string{account, connector} {
		if strings.IndexFunc(v, unicode.IsControl) >= 0 || len(v) > 200 {
			return "", rec, errors.New("an account or connector limit must be at most 200 characters, without control characters")
		}
	}
	idBytes := make([]byte, 12)
	secret := make([]byte, 32)
	rand.Read(idBytes)
	rand.Read(secret)
	id := hex.EncodeToString(idBytes)
	key = KeyPrefix + id + "_" + strings.ToLower(keyText.EncodeToString(secret))
	rec = store.APIKey{ID: id, Name: name, Hash: hashKey(key), Scopes: slices.Clone(scopes), Account: account, Connector: connector, CreatedAt: time.Now()}
	return key, rec, nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// keyID returns the ID part of a stored key ("csk_ID_SECRET"), or "".
func keyID(key string) string {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return ""
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 24 || secret == "" {
		return ""
	}
	if _, err := hex.DecodeString(id); err != nil {
		return ""
	}
	return id
}

// caller is who a request comes from; key is nil for CONNSPEC_API_KEY and
// for a server without a key.
type caller struct{ key *store.APIKey }

type callerKey struct{}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// limits reports whether the caller may act on a connection of this
// account and connector.
func (c caller) allows(account, connector string) bool {
	if c.key == nil {
		return true
	}
	return (c.key.Account == "" || c.key.Account == account) && (c.key.Connector == "" || c.key.Connector == connector)
}

// authenticate finds the key a request carries: (caller, true), or it has
// answered 401 or 500 itself.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	if s.cfg.InsecureNoKey {
		return caller{}, true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	got = strings.TrimSpace(got)
	if ok && s.cfg.APIKey != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.APIKey)) == 1 {
		return caller{}, true
	}
	if id := keyID(got); ok && id != "" {
		sum := sha256.Sum256([]byte(got))
		if k, ok := s.keys.get(sum, s.cfg.RecheckAfter); ok {
			// Checked against the store within RecheckAfter (keyCache).
			s.touchKey(r, sum, k)
			return caller{key: &k}, true
		}
		// Read from the store at least every RecheckAfter, so a revocation
		// holds on every instance within it (at once on this one).
		k, err := s.cfg.Store.GetAPIKey(r.Context(), id)
		switch {
		case err == nil:
			if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(k.Hash)) == 1 && k.RevokedAt.IsZero() {
				s.keys.put(sum, k, s.cfg.RecheckAfter)
				s.touchKey(r, sum, k)
				return caller{key: &k}, true
			}
		case !errors.Is(err, store.ErrNotFound):
			s.log.Error("reading an API key", "key", id, "error", err.Error())
			writeError(w, http.StatusInternalServerError, "store_error", "the API key could not be checked")
			return caller{}, false
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="connspec"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "this endpoint needs an API key (CONNSPEC_API_KEY or a key made with `connspec keys create`): Authorization: Bearer <key>")
	return caller{}, false
}

// touchKey records k's use, coarsely (touchEvery).
func (s *Server) touchKey(r *http.Request, sum [sha256.Size]byte, k store.APIKey) {
	if time.Since(k.LastUsedAt) <= touchEvery {
		return
	}
	now := time.Now()
	if err := s.cfg.Store.TouchAPIKey(r.Context(), k.ID, now); err != nil {
		s.log.Warn("recording an API key's use failed", "key", k.ID, "error", err.Error())
		return
	}
	s.keys.touched(sum, now)
}

// requireScope lets a request through when its key has scope (or admin).
func (s *Server) requireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if c.key != nil && !slices.Contains(c.key.Scopes, ScopeAdmin) && !slices.Contains(c.key.Scopes, scope) {
			writeError(w, http.StatusForbidden, "scope_refused", "this API key does not have the "+scope+" scope this endpoint needs")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// APIKeyView is a key as the admin API and `connspec keys list --format
// json` show it: never the key or its hash.
type APIKeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	Account    string     `json:"account,omitempty"`
	Connector  string     `json:"connector,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	// Key is set once, in the answer that creates it.
	Key string `json:"key,omitempty"`
}

// ViewAPIKey is k as shown (APIKeyView).
func ViewAPIKey(k store.APIKey) APIKeyView {
	v := APIKeyView{ID: k.ID, Name: k.Name, Scopes: k.Scopes, Account: k.Account, Connector: k.Connector, CreatedAt: k.CreatedAt}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt
		v.RevokedAt = &t
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		v.LastUsedAt = &t
	}
	return v
}

type newKeyRequest struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	Account   string   `json:"account"`
	Connector string   `json:"connector"`
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var req newKeyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be JSON {name, scopes, account?, connector?}: "+describeJSONError(err))
		return
	}
	key, rec, err := NewAPIKey(req.Name, req.Scopes, req.Account, req.Connector)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return
	}
	if err := s.cfg.Store.PutAPIKey(r.Context(), rec); err != nil {
		s.log.Error("storing an API key", "key", rec.ID, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the key could not be stored")
		return
	}
	s.log.Info("API key created", "key", rec.ID, "scopes", strings.Join(rec.Scopes, ","))
	v := ViewAPIKey(rec)
	v.Key = key
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.cfg.Store.ListAPIKeys(r.Context())
	if err != nil {
		s.log.Error("listing API keys", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the keys could not be read")
		return
	}
	out := make([]APIKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, ViewAPIKey(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("keyId")
	err := s.cfg.Store.RevokeAPIKey(r.Context(), id, time.Now())
	s.keys.forget(id) // whatever the answer: the next request reads the store
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no API key with this id")
		return
	case err != nil:
		s.log.Error("revoking an API key", "key", id, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the key could not be revoked")
		return
	}
	k, err := s.cfg.Store.GetAPIKey(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "store_error", "the key was revoked but could not be read back")
		return
	}
	s.log.Info("API key revoked", "key", id)
	writeJSON(w, http.StatusOK, ViewAPIKey(k))
}
