package oauth2

import (
	"testing"
	"time"
)

// A refresh token's own lifetime is read from every spelling providers use,
// relative or absolute, and nothing is made up when the answer is silent.
func TestRefreshTokenExpiry(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, body string
		want       time.Time
	}{
		{"quickbooks", `{"access_token":"a","x_refresh_token_expires_in":8726400}`, now.Add(8726400 * time.Second)},
		{"microsoft", `{"access_token":"a","refresh_token_expires_in":"86400"}`, now.Add(24 * time.Hour)},
		{"keycloak", `{"access_token":"a","refresh_expires_in":1800}`, now.Add(30 * time.Minute)},
		{"keycloak offline (0: does not lapse)", `{"access_token":"a","refresh_expires_in":0}`, time.Time{}},
		{"absolute", `{"access_token":"a","refresh_token_expires_at":"2026-02-01T00:00:00Z"}`, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"absolute unix", `{"access_token":"a","refresh_token_expires_at":1769904000}`, time.Unix(1769904000, 0)},
		{"silent", `{"access_token":"a","expires_in":3600}`, time.Time{}},
		{"nonsense", `{"access_token":"a","refresh_token_expires_in":"soon"}`, time.Time{}},
	} {
		tok, err := ParseTokenResponse(200, "application/json", []byte(tc.body), now, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !tok.RefreshTokenExpiresAt.Equal(tc.want) {
			t.Errorf("%s: RefreshTokenExpiresAt = %v, want %v", tc.name, tok.RefreshTokenExpiresAt, tc.want)
		}
	}
}
