package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connspec/connspec/engine/oauth2"
)

const engineDeviceCanary = "canary-engine-device-code-51c2"

// rfc8628Server is the server side of the device grant, with a resource:
// /device hands out the device code, /token answers polls from script
// (the last entry repeats; "ok" issues the token) and counts polls that
// come sooner than the interval, /api/me wants the issued token.
type rfc8628Server struct {
	*httptest.Server
	now      func() time.Time
	mu       sync.Mutex
	script   []string
	interval time.Duration
	polls    int
	early    int
	last     time.Time
}

func newRFC8628Server(t *testing.T, now func() time.Time, script ...string) *rfc8628Server {
	s := &rfc8628Server{now: now, script: script, interval: 2 * time.Second}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/device":
			if id, secret, _ := r.BasicAuth(); id != "client-1" || secret != "secret-1" {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			fmt.Fprintf(w, `{"device_code":%q,"user_code":"BDWP-HQPK","verification_uri":"%s/activate","expires_in":600,"interval":2}`, engineDeviceCanary, s.URL)
		case "/token":
			if r.PostForm.Get("grant_type") != oauth2.GrantDeviceCode || r.PostForm.Get("device_code") != engineDeviceCanary {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			if s.polls > 0 && s.now().Sub(s.last) < s.interval {
				s.early++
			}
			s.last = s.now()
			step := s.script[min(s.polls, len(s.script)-1)]
			s.polls++
			switch step {
			case "ok":
				fmt.Fprint(w, `{"access_token":"device-at","token_type":"Bearer","expires_in":3600,"refresh_token":"device-rt"}`)
				return
			case "slow_down":
				s.interval += 5 * time.Second
			}
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":%q,"error_description":"for %s"}`, step, r.PostForm.Get("device_code"))
		case "/api/me":
			if r.Header.Get("Authorization") != "Bearer device-at" {
				w.WriteHeader(401)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"user": "device-user"})
		}
	}))
	t.Cleanup(s.Close)
	return s
}

const deviceConnectorSpec = `name: C
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      clientSecret: {$var: connectorParameters.clientSecret}
      clientAuthLocation: headers
      deviceAuthorizationUri: {{URL}}/device
      tokenUri: {{URL}}/token
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}
`

// deviceEngine is an engine on a fake clock that only moves when the
// device flow waits; waits records each wait.
func deviceEngine(t *testing.T, script ...string) (*Engine, *rfc8628Server, *[]time.Duration) {
	clock := &fakeClock{}
	clock.now.Store(time.Unix(1e9, 0).UnixNano())
	s := newRFC8628Server(t, clock.Now, script...)
	e := newEngine(t, s.Server, deviceConnectorSpec)
	e.now = clock.Now
	var waits []time.Duration
	e.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		clock.Advance(d)
		return ctx.Err()
	}
	return e, s, &waits
}

func TestDeviceAuthorizationEndToEnd(t *testing.T) {
	e, s, waits := deviceEngine(t, "authorization_pending", "authorization_pending", "slow_down", "ok")
	ctx := context.Background()
	conn := Connection{ID: "dev-1", Connector: "c", ConnectorParameters: clientParams}
	da, err := e.StartDeviceAuthorization(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if da.UserCode != "BDWP-HQPK" || da.VerificationURI != s.URL+"/activate" || da.Interval != 2*time.Second {
		t.Fatalf("device authorization: %+v", da)
	}
	if shown := fmt.Sprintf("%v %+v %#v", da, da, da); strings.Contains(shown, engineDeviceCanary) {
		t.Fatalf("device code printed: %s", shown)
	}
	creds, err := e.CompleteDeviceAuthorization(ctx, conn, da)
	if err != nil {
		t.Fatal(err)
	}
	if creds["access_token"] != "device-at" || creds["refresh_token"] != "device-rt" || creds["expires_at"] == nil {
		t.Fatalf("credentials: %v", creds)
	}
	if got := fmt.Sprint(*waits); got != "[2s 2s 2s 7s]" || s.early != 0 {
		t.Fatalf("waits %s, %d early polls", got, s.early)
	}
	// Stored: a client made from the ID alone is authenticated.
	me := get(t, mustClient(t, e, Connection{ID: "dev-1", Connector: "c", ConnectorParameters: clientParams}), "/api/me")
	if me["user"] != "device-user" {
		t.Fatalf("resource answered %v", me)
	}
}

func TestDeviceAuthorizationRefusals(t *testing.T) {
	ctx := context.Background()
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	for _, tc := range []struct {
		step string
		want error
	}{{"access_denied", oauth2.ErrAccessDenied}, {"expired_token", oauth2.ErrDeviceCodeExpired}} {
		e, _, _ := deviceEngine(t, "authorization_pending", tc.step)
		da, err := e.StartDeviceAuthorization(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.CompleteDeviceAuthorization(ctx, conn, da)
		if !errors.Is(err, tc.want) || strings.Contains(err.Error(), engineDeviceCanary) || strings.Contains(err.Error(), "secret-1") {
			t.Fatalf("%s: err = %v", tc.step, err)
		}
	}
	e, _, _ := deviceEngine(t, "ok")
	if _, err := e.CompleteDeviceAuthorization(ctx, conn, DeviceAuthorization{UserCode: "X"}); err == nil {
		t.Fatal("a DeviceAuthorization not from StartDeviceAuthorization was accepted")
	}
	// A connector without deviceAuthorizationUri says so.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	plain := newEngine(t, srv, strings.Replace(deviceConnectorSpec, "deviceAuthorizationUri: {{URL}}/device", "authorizeUri: {{URL}}/authorize", 1))
	if _, err := plain.StartDeviceAuthorization(ctx, conn); err == nil || !strings.Contains(err.Error(), "deviceAuthorizationUri") {
		t.Fatalf("err = %v", err)
	}
}

// deviceAuthorizationUri is held to the host policy like tokenUri: a host
// the end user typed gets neither the client id nor the secret.
func TestDeviceAuthorizationURIHostPolicy(t *testing.T) {
	ev := newEvilServer(t)
	e := loadEngine(t, `key: d
name: D
auth:
  type: oauth2
  ui:
    schema:
      type: object
      properties: {host: {type: string}}
  getOAuthConfig:
    code: |
      export default ({ connectionInput }) => ({
        clientId: 'cid', clientSecret: '`+hostCanarySecret+`',
        deviceAuthorizationUri: 'http://' + connectionInput.host + '/device',
        tokenUri: 'https://auth.example.test/token',
      })
  makeApiClient:
    mapping: {baseUri: "https://api.example.test"}
`)
	_, err := e.StartDeviceAuthorization(context.Background(), Connection{Connector: "d", ConnectionParameters: map[string]any{"host": ev.host()}})
	wantHostRefusal(t, err, "deviceAuthorizationUri", "host", ev.host())
	if ev.hits.Load() != 0 {
		t.Fatalf("%d request(s) reached the end user's host", ev.hits.Load())
	}
}
