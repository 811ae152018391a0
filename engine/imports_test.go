package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connspec/connspec/engine/jsrt"
)

// Relative imports in a connector folder: the layout of the public connector
// integration-app/pipedrive-connector (src/data/deals/index.ts imports
// { objectCollectionHandler } from '../common'), with the method files of
// the Connector Builder's file conventions (auth/make-api-client.ts,
// auth/test.js).

func TestMethodsImportHelpersFromTheConnectorFolder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/v1/me":
			w.WriteHeader(http.StatusNotFound)
		case r.Header.Get("Authorization") == "Bearer key-good":
			w.Write([]byte(`{"id":"acct_1"}`))
		case r.Header.Get("Authorization") == "Bearer key-noid":
			w.Write([]byte(`{}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	e := New()
	if _, diags := e.Load(filepath.Join("testdata", "imports")); len(diags) > 0 {
		t.Fatalf("connector does not load cleanly:\n%s", diags.Error())
	}
	conn := func(key string) Connection {
		return Connection{Connector: "imports", ConnectorParameters: map[string]any{"apiBase": srv.URL}, ConnectionParameters: map[string]any{"apiKey": key}}
	}
	if err := mustClient(t, e, conn("key-good")).Test(context.Background()); err != nil {
		t.Fatalf("test with a good key: %v", err)
	}
	// The helper throws: the error names the helper's file and line.
	err := mustClient(t, e, conn("key-noid")).Test(context.Background())
	var je *jsrt.Error
	if !errors.As(err, &je) || !strings.HasSuffix(je.File, "auth/helpers.ts") || je.Line != 8 || je.Column != 11 {
		t.Fatalf("test with an account without id = %v, want an error at auth/helpers.ts:8:11", err)
	}
}

func TestValidateReportsImportProblemsAtTheImport(t *testing.T) {
	dir := filepath.Join("testdata", "imports-bad")
	_, diags := New().Load(dir)
	got := diags.Error()
	for _, want := range []string{
		filepath.Join(dir, "auth", "make-api-client.js") + `:1:22: error: makeApiClient: cannot find "./missing-helper"`,
		filepath.Join(dir, "auth", "make-api-client.js") + `:2:21: error: makeApiClient: import of "../../imports/auth/helpers" is not allowed: it leaves the connector folder`,
		filepath.Join(dir, "auth", "check.js") + `:2:1: error: test: Unexpected end of file`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack\n  %s\ngot:\n%s", want, got)
		}
	}
}

func TestImportsDoNotFollowSymlinksOutOfTheFolder(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	conn := filepath.Join(dir, "conn")
	for _, d := range []string{outside, filepath.Join(conn, "auth")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.js"), "export default 'canary-outside'\n")
	write(filepath.Join(conn, "spec.yml"), "name: L\nkey: l\nauth:\n  type: client-credentials\n")
	write(filepath.Join(conn, "auth", "make-api-client.js"), "import s from './link'\nexport default () => ({ baseUri: s })\n")
	if err := os.Symlink(filepath.Join(outside, "secret.js"), filepath.Join(conn, "auth", "link.js")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	_, diags := New().Load(conn)
	got := diags.Error()
	if !diags.HasErrors() || !strings.Contains(got, "make-api-client.js:1:15") || strings.Contains(got, "canary") {
		t.Fatalf("diagnostics = %s, want a refusal at the import that quotes nothing", got)
	}
}
