package jwtgrant

import (
	"encoding/json"
	"strings"
	"testing"
)

// googleKeyFile is a service-account key file as the Cloud console
// downloads it, with a generated key.
func googleKeyFile(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	testKeys(t)
	f := map[string]any{
		"type":                        "service_account",
		"project_id":                  "demo-project",
		"private_key_id":              "0123456789abcdef0123456789abcdef01234567",
		"private_key":                 string(pkcs8PEM(t, rsaKey)),
		"client_email":                "robot@demo-project.iam.gserviceaccount.com",
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/robot%40demo-project.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
	if edit != nil {
		edit(f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseServiceAccount(t *testing.T) {
	sa, err := ParseServiceAccount(googleKeyFile(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if sa.ClientEmail != "robot@demo-project.iam.gserviceaccount.com" || sa.TokenURI != GoogleTokenURI || sa.ProjectID != "demo-project" {
		t.Errorf("service account = %+v", sa)
	}
	if sa.Key.Algorithm() != "RS256" || sa.Key.KeyID != "0123456789abcdef0123456789abcdef01234567" {
		t.Errorf("key = %v, want RS256 with private_key_id as kid", sa.Key)
	}
	tok, err := sa.Key.Sign(sa.Claims([]string{"https://www.googleapis.com/auth/drive.readonly", "openid"}, "admin@example.com"), now)
	if err != nil {
		t.Fatal(err)
	}
	claims, header := verify(t, tok, "RS256", &rsaKey.PublicKey)
	if header["kid"] != sa.Key.KeyID {
		t.Errorf("kid = %v", header["kid"])
	}
	want := map[string]any{"iss": sa.ClientEmail, "aud": GoogleTokenURI, "sub": "admin@example.com",
		"scope": "https://www.googleapis.com/auth/drive.readonly openid"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}

	noURI, err := ParseServiceAccount(googleKeyFile(t, func(f map[string]any) { delete(f, "token_uri") }))
	if err != nil || noURI.TokenURI != GoogleTokenURI {
		t.Errorf("without token_uri: %v, %v; want Google's token endpoint", noURI, err)
	}
}

// TestParseServiceAccountRefuses: files that are not usable service-account
// keys are refused by field name, never echoing a value that may be the key.
func TestParseServiceAccountRefuses(t *testing.T) {
	const canary = "canary-private-key-text-4711"
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not JSON", []byte("{" + canary), "not a JSON object"},
		{"JSON array", []byte(`["` + canary + `"]`), "not a JSON object"},
		{"private_key not a string", googleKeyFile(t, func(f map[string]any) { f["private_key"] = map[string]any{"k": canary} }), "not a JSON object"},
		{"no type", googleKeyFile(t, func(f map[string]any) { delete(f, "type") }), `no "type"`},
		{"user credentials", googleKeyFile(t, func(f map[string]any) { f["type"] = "authorized_user" }), `type "authorized_user"`},
		{"workload identity", googleKeyFile(t, func(f map[string]any) { f["type"] = "external_account" }), `type "external_account"`},
		{"no client_email", googleKeyFile(t, func(f map[string]any) { delete(f, "client_email") }), "no client_email"},
		{"no private_key", googleKeyFile(t, func(f map[string]any) { delete(f, "private_key") }), "no private_key"},
		{"private_key not PEM", googleKeyFile(t, func(f map[string]any) { f["private_key"] = canary }), "private_key: privateKey is not a PEM private key"},
		{"private_key is EC", googleKeyFile(t, func(f map[string]any) { f["private_key"] = string(pkcs8PEM(t, p256Key)) }), "RS256 cannot sign with this EC P-256 key"},
		{"token_uri http", googleKeyFile(t, func(f map[string]any) { f["token_uri"] = "http://oauth2.googleapis.com/token?k=" + canary }), "token_uri must be an absolute https URL"},
		{"token_uri relative", googleKeyFile(t, func(f map[string]any) { f["token_uri"] = "/token" }), "token_uri must be an absolute https URL"},
		{"huge", []byte(`{"type":"service_account","x":"` + strings.Repeat("a", 70<<10) + `"}`), "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sa, err := ParseServiceAccount(tc.data)
			if err == nil {
				t.Fatalf("ParseServiceAccount = %+v, want an error", sa)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "MII") {
				t.Errorf("error %q shows a value from the file", err)
			}
		})
	}
}
