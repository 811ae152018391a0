package mapvalue

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	r := Reader("oauth2")
	if s, err := r.String("k", json.Number("12")); err != nil || s != "12" {
		t.Errorf("String(json.Number) = %q, %v", s, err)
	}
	if s, _ := r.String("k", 3600.0); s != "3600" {
		t.Errorf("String(3600.0) = %q", s)
	}
	if _, err := r.String("clientSecret", map[string]any{"x": "hunter2"}); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.HasPrefix(err.Error(), "oauth2: clientSecret") {
		t.Errorf("object: %v", err)
	}
	if m, err := r.StringMap("extra", map[string]any{"prompt": "consent", "n": int64(2), "gone": nil}); err != nil || len(m) != 2 || m["n"] != "2" {
		t.Errorf("StringMap = %v, %v", m, err)
	}
	if sc, _ := r.Scopes("a, b,,c", ","); strings.Join(sc, "|") != "a|b|c" {
		t.Errorf("Scopes = %v", sc)
	}
	if d, err := r.Seconds("defaultExpiresIn", "90"); err != nil || d != 90*time.Second {
		t.Errorf("Seconds = %v, %v", d, err)
	}
	if _, err := r.Seconds("refreshMargin", -1); err == nil {
		t.Error("negative seconds accepted")
	}
	if err := r.URL("tokenUri", "https://user:pw@example.com/token"); err != nil {
		t.Errorf("URL: %v", err)
	}
	if err := r.URL("tokenUri", "/relative?key=secret-123"); err == nil || strings.Contains(err.Error(), "secret-123") {
		t.Errorf("relative URL: %v", err)
	}
	if err := r.OneOf("grantType", "password", "authorization_code", "client_credentials"); err == nil {
		t.Error("OneOf accepted an unknown value")
	}
	if Duration(1e300) != MaxDuration {
		t.Error("Duration is not capped")
	}
}
