package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connspec/connspec/spec"
)

// checkErrorText fails when an error's text shows a formatting mistake
// (%!w(<nil>), %!v(MISSING), ...), a bare <nil> or a control character.
func checkErrorText(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "%!") || strings.Contains(msg, "<nil>") || strings.ContainsAny(msg, "\r\n\x00") {
		t.Errorf("error text: %q", msg)
	}
}

// A request the net/http package refuses without a wrapped cause (an
// invalid method) used to read "request ...: %!w(<nil>)".
func TestRequestThatCannotBeBuiltSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	cl := mustClient(t, newEngine(t, srv, apiKeyHeader), Connection{ConnectionParameters: map[string]any{"apiKey": "sk_canary"}})
	for _, tc := range []struct{ method, path, want string }{
		{"BAD METHOD", "/me", "invalid method"},
		{"GET\r\nX-Injected: 1", "/me", "invalid method"},
		{"GET", "/me\r\nX-Injected: 1", "invalid control character"},
		{"GET", "/%zz", "invalid URL escape"},
	} {
		_, err := cl.Do(context.Background(), tc.method, tc.path, nil)
		checkErrorText(t, err)
		if err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q: %v, want it to say %q", tc.method, tc.path, err, tc.want)
		}
	}
}

// Every error type of the engine reads well when its cause is missing.
func TestErrorsWithoutACauseReadWell(t *testing.T) {
	for _, err := range []error{
		&MethodError{Method: "test", Pos: spec.Pos{File: "c.yml", Line: 3, Column: 5}},
		&MethodError{Method: "test"},
		&ConnectionError{Key: KeyAccessTokenExpired},
		&UnresolvedAuthError{Integration: "acme"},
		&TestError{Reason: "the test returned false"},
		redactError(&MethodError{Method: "test"}, newRedactor(map[string]any{"k": "canary-secret"})),
	} {
		checkErrorText(t, err)
	}
}
