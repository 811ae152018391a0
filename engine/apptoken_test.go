package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var workspaceSecret = []byte("workspace-secret-canary-51f2")

// platformAPI accepts only tokens signed with the workspace secret and
// answers with their claims.
func platformAPI(t *testing.T, header string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var claims jwt.MapClaims
		_, err := jwt.ParseWithClaims(r.Header.Get(header), &claims, func(*jwt.Token) (any, error) { return workspaceSecret, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("ws-1"), jwt.WithExpirationRequired())
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fields, _ := claims["fields"].(map[string]any)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"sub":"` + claims["sub"].(string) + `","plan":"` + fields["plan"].(string) + `","iat":` + jsonNumber(claims["iat"]) + `}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func jsonNumber(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}

func appTokenConnector(typ string) string {
	return `name: C
auth:
  type: ` + typ + `
  makeApiClient:
    mapping: {baseUri: "{{URL}}"}
`
}

func TestIntegrationAppTokenIsMintedPerAccount(t *testing.T) {
	for _, tc := range []struct{ typ, header string }{
		{"integration-app-token", HeaderIntegrationAppToken},
		{"membrane-token", HeaderMembraneToken},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			srv := platformAPI(t, tc.header)
			e := newEngine(t, srv, appTokenConnector(tc.typ), WithWorkspace("ws-1", workspaceSecret))
			clock := withClock(e)
			cl := mustClient(t, e, Connection{Account: &Account{ID: "cust-42", Metadata: map[string]any{"plan": "pro"}}})
			first := get(t, cl, "/whoami")
			if first["sub"] != "cust-42" || first["plan"] != "pro" {
				t.Fatalf("claims: %v", first)
			}
			// Reminted before the 5-minute token expires.
			clock.Advance(4*time.Minute + 30*time.Second)
			if again := get(t, cl, "/whoami"); again["iat"] == first["iat"] {
				t.Errorf("the token was not reminted: %v", again)
			}
			if _, err := e.store.Get(context.Background(), "x"); err == nil {
				t.Error("nothing should be stored")
			}
		})
	}
}

func TestIntegrationAppTokenWrongSecretIsRejected(t *testing.T) {
	srv := platformAPI(t, HeaderIntegrationAppToken)
	e := newEngine(t, srv, appTokenConnector("integration-app-token"), WithWorkspace("ws-1", []byte("not-the-secret")))
	cl := mustClient(t, e, Connection{Account: &Account{ID: "cust-42", Metadata: map[string]any{"plan": "pro"}}})
	_, err := cl.Get(context.Background(), "/whoami")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Errorf("err = %v", err)
	}
	if _, err := newEngine(t, srv, appTokenConnector("integration-app-token")).Client(context.Background(), Connection{Connector: "c", Account: &Account{ID: "a"}}); err == nil || !strings.Contains(err.Error(), "WithWorkspace") {
		t.Errorf("no workspace: %v", err)
	}
}

// The integration-app-token and membrane-token pages show the type with no
// makeApiClient and say the token header goes to "your API"
// (console.integration.app/docs/connector-builder/authentication/types/integration-app-token,
// "Configuration"; docs.getmembrane.com/reference/workspace-elements/connectors/connector-types/membrane-token,
// "Connector Definition"), but neither names that API's URL. connspec does
// not guess one: validate refuses the connector and says what to add.
func TestAppTokenWithoutMakeAPIClientIsRefusedByName(t *testing.T) {
	for _, typ := range []string{"integration-app-token", "membrane-token"} {
		for _, layout := range []struct {
			name string
			fsys fstest.MapFS
			path string
		}{
			{"single file", fstest.MapFS{"c.yml": {Data: []byte("name: C\nkey: c\nauth:\n  type: " + typ + "\n")}}, "c.yml"},
			{"folder", fstest.MapFS{"c/spec.yml": {Data: []byte("name: C\nkey: c\nauth:\n  type: " + typ + "\n")}}, "c"},
			{"option", fstest.MapFS{"c.yml": {Data: []byte("name: C\nkey: c\nauth:\n  options:\n    app:\n      type: " + typ + "\n")}}, "c.yml"},
		} {
			t.Run(typ+"/"+layout.name, func(t *testing.T) {
				_, diags := New().LoadFS(layout.fsys, layout.path)
				if !diags.HasErrors() {
					t.Fatal("a connector without makeApiClient loaded: its requests would go nowhere the docs name")
				}
				msg := diags.Error()
				for _, want := range []string{"makeApiClient", "baseUri", typ, "no default"} {
					if !strings.Contains(msg, want) {
						t.Errorf("the error does not say %q:\n%s", want, msg)
					}
				}
			})
		}
	}
}
