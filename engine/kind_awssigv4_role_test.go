package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func awsRoleInput() map[string]any {
	return map[string]any{"region": "eu-west-1", "roleArn": "arn:aws:iam::123456789012:role/partner", "externalId": "ext-42"}
}

func awsRoleEngine(t testing.TB, f *fakeAWS, clock *jwtClock, opts ...Option) (*Engine, *toLoopback) {
	rt := loopbackTo(f.srv)
	e := newEngine(t, nil, awsRole, append([]Option{WithTransport(rt)}, opts...)...)
	e.now = clock.now
	return e, rt
}

// TestSigV4AssumeRole: the first call assumes the role (a signed STS
// request with the role ARN, external id, session name and duration to the
// regional endpoint), calls are signed with the role's credentials and
// session token, and the role is assumed again five minutes before its
// credentials expire, not earlier.
func TestSigV4AssumeRole(t *testing.T) {
	clock := newJWTClock()
	f := newFakeAWS(t, clock.now)
	e, rt := awsRoleEngine(t, f, clock)
	cl := mustClient(t, e, Connection{ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()})
	if n := f.assumes.Load(); n != 0 {
		t.Errorf("%d AssumeRole before the first call", n)
	}
	for range 3 {
		if got := get(t, cl, "/prod/items"); got["ok"] != true {
			t.Fatalf("got %v", got)
		}
	}
	if n := f.assumes.Load(); n != 1 {
		t.Errorf("%d AssumeRole for 3 calls, want 1", n)
	}
	f.mu.Lock()
	role := f.lastRole
	f.mu.Unlock()
	for k, want := range map[string]string{"RoleArn": "arn:aws:iam::123456789012:role/partner", "ExternalId": "ext-42", "RoleSessionName": "connspec-test", "DurationSeconds": "3600"} {
		if role.Get(k) != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, role.Get(k), want)
		}
	}
	if got := strings.Join(rt.sent(), " "); !strings.HasPrefix(got, "sts.eu-west-1.amazonaws.com api.execute-api.eu-west-1.amazonaws.com") {
		t.Errorf("requests went to %s", got)
	}
	clock.add(time.Hour - 6*time.Minute) // outside the five-minute margin
	get(t, cl, "/prod/items")
	if n := f.assumes.Load(); n != 1 {
		t.Errorf("assumed again 6 minutes before expiry")
	}
	clock.add(2 * time.Minute)
	if got := get(t, cl, "/prod/items"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	if n := f.assumes.Load(); n != 2 {
		t.Errorf("%d AssumeRole after the margin was reached, want 2", n)
	}
	if id := cl.Credentials()["accessKeyId"]; id != "ASIATEMP2" {
		t.Errorf("credentials hold %v, want ASIATEMP2", id)
	}
	f.check()
}

// TestSigV4AssumeRoleStorm: 20 concurrent requests on expired role
// credentials across two engines sharing one SQLite store make exactly
// one AssumeRole.
func TestSigV4AssumeRoleStorm(t *testing.T) {
	clock := newJWTClock()
	f := newFakeAWS(t, clock.now)
	stores := faultSQLiteStores(t, 2)
	conn := Connection{ID: "aws-1", ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()}
	var clients []*Client
	for _, s := range stores {
		e, _ := awsRoleEngine(t, f, clock, WithStore(s))
		clients = append(clients, mustClient(t, e, conn))
	}
	get(t, clients[0], "/prod/items") // the first role credentials, stored
	clock.add(2 * time.Hour)          // expired
	getConcurrently(t, clients, 20, "/prod/items", "map[len:0 ok:true]")
	if n := f.assumes.Load(); n != 2 {
		t.Errorf("%d AssumeRole for 20 concurrent calls on expired credentials across two engines, want 1 after the first", n-1)
	}
	rec, err := stores[1].Get(context.Background(), "aws-1")
	if err != nil || rec.Credentials["accessKeyId"] != "ASIATEMP2" {
		t.Errorf("the store holds %v (%v), want ASIATEMP2", rec.Credentials["accessKeyId"], err)
	}
	f.check()
}

// TestSigV4SecretsNeverShown: the base secret key and the role's secret
// key and session token (canaries) appear in no error, log line or
// redacted text, whatever fails: STS refusing the base credentials (the
// connection is then defunct, not retried), STS or the API echoing them.
func TestSigV4SecretsNeverShown(t *testing.T) {
	for name, c := range map[string]struct {
		sts, api func(f *fakeAWS) http.HandlerFunc
		defunct  bool
	}{
		"sts access denied": {sts: func(f *fakeAWS) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized with ` + f.baseSecret + `</Message></Error></ErrorResponse>`))
			}
		}, defunct: true},
		"sts 500 echo": {sts: func(f *fakeAWS) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`<ErrorResponse><Error><Code>InternalFailure</Code><Message>` + f.baseSecret + `</Message></Error></ErrorResponse>`))
			}
		}},
		"api echoes role secrets": {api: func(f *fakeAWS) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"message":"bad token canary-temp-token-1 for canary-temp-secret-1 ` + r.Header.Get("X-Amz-Security-Token") + `"}`))
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			clock := newJWTClock()
			f := newFakeAWS(t, clock.now)
			inner := f.srv.Config.Handler
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasPrefix(r.Host, "sts.") && c.sts != nil:
					c.sts(f)(w, r)
				case !strings.HasPrefix(r.Host, "sts.") && c.api != nil:
					c.api(f)(w, r)
				default:
					inner.ServeHTTP(w, r)
				}
			})
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			e, _ := awsRoleEngine(t, f, clock, WithLogger(logger))
			cl := mustClient(t, e, Connection{ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()})
			_, err := cl.Get(context.Background(), "/prod/items")
			if err == nil {
				t.Fatal("no error")
			}
			for where, out := range map[string]string{"error": err.Error(), "log": logs.String(),
				"Redact": cl.Redact(f.baseSecret + " canary-temp-secret-1 canary-temp-token-1")} {
				for i, secret := range []string{f.baseSecret, "canary-temp-secret-1", "canary-temp-token-1"} {
					if where == "Redact" && i > 0 && f.assumes.Load() == 0 {
						continue // never issued: nothing to know it by
					}
					if strings.Contains(out, secret) {
						t.Errorf("%s shows in the %s: %s", secret, where, out)
					}
				}
			}
			var ce *ConnectionError
			if isDefunct := errors.As(err, &ce) && ce.Key == KeyConnectionIsDefunct; isDefunct != c.defunct {
				t.Errorf("defunct = %v, want %v: %v", isDefunct, c.defunct, err)
			}
			if c.defunct && !strings.Contains(err.Error(), "AccessDenied") {
				t.Errorf("the error does not name STS's code: %v", err)
			}
		})
	}
}
