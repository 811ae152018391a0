package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/connspec/connspec/engine"
)

// The device authorization grant (RFC 8628) connects from a terminal or a
// device without a browser: show the user code and the verification URI,
// then wait while the user approves on another device.
func ExampleEngine_StartDeviceAuthorization() {
	// A provider that approves at once, with a 1 s polling interval.
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/device":
			fmt.Fprintf(w, `{"device_code":"secret-device-code","user_code":"WDJB-MJHT","verification_uri":"%s/activate","expires_in":600,"interval":1}`, srv.URL)
		case "/token":
			fmt.Fprint(w, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
		}
	}))
	defer srv.Close()

	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "acme.yml"), []byte(strings.ReplaceAll(`name: Acme
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: my-client
      deviceAuthorizationUri: URL/device
      tokenUri: URL/token
  makeApiClient:
    mapping:
      baseUri: URL
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`, "URL", srv.URL)), 0o644)

	eng := engine.New()
	if _, diags := eng.Load(filepath.Join(dir, "acme.yml")); diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	ctx := context.Background()
	conn := engine.Connection{Connector: "acme"}
	da, err := eng.StartDeviceAuthorization(ctx, conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("enter", da.UserCode, "at", strings.TrimPrefix(da.VerificationURI, srv.URL))
	creds, err := eng.CompleteDeviceAuthorization(ctx, conn, da)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", creds["access_token"])
	// Output:
	// enter WDJB-MJHT at /activate
	// access token: at
}
