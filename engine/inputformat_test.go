package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// formatConnector declares one connection-input field per common JSON
// Schema format.
const formatConnector = `name: C
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        subdomain: {type: string, format: hostname}
        site: {type: string, format: uri}
        login: {type: string, format: email}
        ip: {type: string, format: ipv4}
        ip6: {type: string, format: ipv6}
        since: {type: string, format: date-time}
        day: {type: string, format: date}
        tenant: {type: string, format: uuid}
        secret: {type: string, format: password}
  makeApiClient:
    mapping:
      baseUri: https://api.example.com
`

// Connection input is checked against the format keywords the connector
// declares: a bad value is an *InputError naming the field and the format,
// never the value.
func TestConnectionInputFormatsAreAsserted(t *testing.T) {
	e := newEngine(t, nil, formatConnector)
	cases := []struct {
		field, format string
		good, bad     []string
	}{
		{"subdomain", "hostname",
			[]string{"acme", "acme.zendesk.com", "xn--bcher-kva.example"},
			[]string{"127.0.0.2:18081/#canary", "evil.example/canary", "canary acme", "-canary", "canary..example", "canary@evil.example", strings.Repeat("canary", 11)}},
		{"site", "uri",
			[]string{"https://api.example.com/v1", "http://127.0.0.1:8080/x?y=1", "urn:isbn:0451450523"},
			[]string{"api.example.com/canary", "/relative/canary", "https://[canary/", "http://canary:port/"}},
		{"login", "email",
			[]string{"jane@example.com", "jane.doe+tag@sub.example.co"},
			[]string{"canary-no-at", "canary@", "canary@@example.com", "canary..x@example.com"}},
		{"ip", "ipv4",
			[]string{"192.168.0.1", "127.0.0.1"},
			[]string{"256.1.1.1", "1.2.3", "canary.1.2.3", "01.2.3.4", "::1"}},
		{"ip6", "ipv6",
			[]string{"::1", "2001:db8::1", "fe80::1:2:3:4"},
			[]string{"1.2.3.4", "2001:db8::canary", "::1::2", "[::1]"}},
		{"since", "date-time",
			[]string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5+02:00"},
			[]string{"2024-01-02", "canary yesterday", "2024-13-02T03:04:05Z", "2024-01-02 03:04:05"}},
		{"day", "date",
			[]string{"2024-01-02", "2024-02-29"},
			[]string{"2024-13-01", "2023-02-29", "02/01/2024", "canary"}},
		{"tenant", "uuid",
			[]string{"123e4567-e89b-12d3-a456-426614174000", "00000000-0000-0000-0000-000000000000"},
			[]string{"123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g", "canary-uuid"}},
	}
	client := func(field, value string) error {
		_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{field: value}})
		return err
	}
	for _, tc := range cases {
		for _, v := range tc.good {
			if err := client(tc.field, v); err != nil {
				t.Errorf("%s %q (a good %s) refused: %v", tc.field, v, tc.format, err)
			}
		}
		for _, v := range tc.bad {
			err := client(tc.field, v)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("%s %q (not a %s): %v, want an *InputError", tc.field, v, tc.format, err)
				continue
			}
			if ie.Field != tc.field || !strings.Contains(err.Error(), "(format "+tc.format+")") {
				t.Errorf("%s %q: %v, want it to name the field and format %s", tc.field, v, err, tc.format)
			}
			if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "canary") {
				t.Errorf("%s: the error repeats the value: %v", tc.field, err)
			}
		}
	}
	// A format the engine does not know (a UI hint such as password) is
	// not asserted.
	if err := client("secret", "anything at all"); err != nil {
		t.Errorf("format password: %v", err)
	}
}
