package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// DeviceFlowOnly tells a device-only OAuth 2.0 block from one that can
// redirect a browser, from getOAuthConfig as it evaluates.
func TestDeviceFlowOnly(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	for _, tc := range []struct {
		name, spec string
		want       bool
	}{
		{"device only", deviceConnectorSpec, true},
		{"both", strings.Replace(deviceConnectorSpec, "tokenUri:", "authorizeUri: {{URL}}/authorize\n      tokenUri:", 1), false},
		{"authorize only", strings.Replace(deviceConnectorSpec, "deviceAuthorizationUri: {{URL}}/device", "authorizeUri: {{URL}}/authorize", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, srv, tc.spec)
			got, err := e.DeviceFlowOnly(context.Background(), conn)
			if err != nil || got != tc.want {
				t.Fatalf("DeviceFlowOnly = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
