package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// apiKeysConformance checks APIKeys: put, get, list without loss, revoke
// (first time kept), touch, refused duplicates and unknown IDs.
func apiKeysConformance(t *testing.T, st Store) {
	keys, ok := st.(APIKeys)
	if !ok {
		t.Fatalf("%T does not keep API keys", st)
	}
	ctx := context.Background()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	a := APIKey{ID: "k1", Name: "billing proxy", Hash: "aa11", Scopes: []string{"proxy", "connect"}, Account: "acme", Connector: "github", CreatedAt: created}
	b := APIKey{ID: "k2", Name: "admin", Hash: "bb22", Scopes: []string{"admin"}, CreatedAt: created.Add(time.Second)}
	for _, k := range []APIKey{b, a} {
		if err := keys.PutAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := keys.PutAPIKey(ctx, APIKey{ID: "k1", Hash: "cc", Scopes: []string{"admin"}}); err == nil {
		t.Error("a second key with the same ID was accepted")
	}
	if err := keys.PutAPIKey(ctx, APIKey{ID: "k3", Hash: "cc"}); err == nil {
		t.Error("a key without scopes was accepted")
	}
	got, err := keys.GetAPIKey(ctx, "k1")
	if err != nil || got.Name != a.Name || got.Hash != a.Hash || !slices.Equal(got.Scopes, a.Scopes) || got.Account != "acme" || got.Connector != "github" ||
		!got.CreatedAt.Equal(created) || !got.RevokedAt.IsZero() || !got.LastUsedAt.IsZero() {
		t.Fatalf("GetAPIKey = %+v, %v", got, err)
	}
	if _, err := keys.GetAPIKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	list, err := keys.ListAPIKeys(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "k1" || list[1].ID != "k2" {
		t.Fatalf("ListAPIKeys = %+v, %v", list, err)
	}
	used := created.Add(time.Hour)
	if err := keys.TouchAPIKey(ctx, "k1", used); err != nil {
		t.Fatal(err)
	}
	revoked := created.Add(2 * time.Hour)
	if err := keys.RevokeAPIKey(ctx, "k1", revoked); err != nil {
		t.Fatal(err)
	}
	if err := keys.RevokeAPIKey(ctx, "k1", revoked.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := keys.RevokeAPIKey(ctx, "nope", revoked); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking an unknown key: %v", err)
	}
	got, _ = keys.GetAPIKey(ctx, "k1")
	if !got.RevokedAt.Equal(revoked) || !got.LastUsedAt.Equal(used) {
		t.Errorf("after touch and two revokes: revoked %v used %v, want %v and %v", got.RevokedAt, got.LastUsedAt, revoked, used)
	}
	if got, _ := keys.GetAPIKey(ctx, "k2"); !got.RevokedAt.IsZero() {
		t.Errorf("revoking k1 revoked k2")
	}
}
