package spec

import "testing"

// TestDeviceAuthorizationURIKey: deviceAuthorizationUri (RFC 8628) is a
// getOAuthConfig key, not an unknown one.
func TestDeviceAuthorizationURIKey(t *testing.T) {
	_, diags := Load(clientAuthSpec("      deviceAuthorizationUri: https://a.example/device\n"), "c.yml")
	if len(diags) != 0 {
		t.Errorf("diagnostics:\n%s", diags.Error())
	}
}
