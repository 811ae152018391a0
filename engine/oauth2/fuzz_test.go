package oauth2

import (
	"github.com/connspec/connspec/internal/mapvalue"

	"errors"
	"testing"
	"time"
)

// FuzzParseTokenResponse checks that no response body, status or content
// type makes the parser panic, and that its results keep their promises.
// The seed corpus is in testdata/fuzz/FuzzParseTokenResponse.
func FuzzParseTokenResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"at","expires_in":3600}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		tok, err := ParseTokenResponse(status, contentType, body, testNow, time.Hour)
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TokenError", err)
			}
			_ = err.Error()
			if tok != nil {
				t.Fatal("token and error both returned")
			}
			return
		}
		if tok == nil || tok.AccessToken == "" || tok.Raw == nil {
			t.Fatalf("success without an access token: %+v", tok)
		}
		if status < 200 || status > 299 {
			t.Fatalf("status %d parsed as success", status)
		}
		if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Year() > 10000 {
			t.Fatalf("ExpiresAt %v out of range", tok.ExpiresAt)
		}
		tok.Expired(testNow, time.Minute)
	})
}

func TestParseTokenResponseDirect(t *testing.T) {
	cases := map[string]struct {
		status      int
		contentType string
		body        string
		wantErr     bool
		wantExpiry  time.Time
	}{
		"JSON as text/plain":     {200, "text/plain", `{"access_token":"at","expires_in":60}`, false, testNow.Add(time.Minute)},
		"BOM":                    {200, "application/json", "\ufeff{\"access_token\":\"at\"}", false, testNow.Add(time.Hour)},
		"no content type form":   {200, "", "access_token=at&expires=120", false, testNow.Add(2 * time.Minute)},
		"NaN expires_in":         {200, "application/json", `{"access_token":"at","expires_in":"NaN"}`, false, testNow.Add(time.Hour)},
		"huge expires_in":        {200, "application/json", `{"access_token":"at","expires_in":1e300}`, false, testNow.Add(mapvalue.MaxDuration)},
		"expires_at beyond 9999": {200, "application/json", `{"access_token":"at","expires_at":1e300}`, false, testNow.Add(time.Hour)},
		"error false":            {200, "application/json", `{"access_token":"at","error":false}`, false, testNow.Add(time.Hour)},
		"non-string token":       {200, "application/json", `{"access_token":42}`, true, time.Time{}},
		"XML":                    {200, "application/xml", `<token/>`, true, time.Time{}},
		"garbage form":           {200, "text/plain", "%zz", true, time.Time{}},
		"JSON string":            {200, "application/json", `"at"`, true, time.Time{}},
		"status 204":             {204, "", ``, true, time.Time{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tok, err := ParseTokenResponse(tc.status, tc.contentType, []byte(tc.body), testNow, time.Hour)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !tok.ExpiresAt.Equal(tc.wantExpiry) {
				t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, tc.wantExpiry)
			}
		})
	}
}
