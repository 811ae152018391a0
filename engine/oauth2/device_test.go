package oauth2

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
)

const deviceCanary = "canary-device-code-7f3e9a"

// fakeClock is a clock that only moves when the poller waits.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }

func (f *fakeClock) wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.t = f.t.Add(d)
	return nil
}

// deviceServer is the server side of RFC 8628: a device authorization
// endpoint and a token endpoint answering polls from script, in order (the
// last entry repeats). A poll sooner than the current interval after the
// last one is answered slow_down, as section 3.5 says, whatever the script.
type deviceServer struct {
	*httptest.Server
	clock    *fakeClock
	interval int // seconds, as sent; 0 leaves it out
	script   []string
	mu       sync.Mutex
	polls    int
	early    int
	lastPoll time.Time
	reqs     []string
}

func newDeviceServer(t *testing.T, clock *fakeClock, interval int, script ...string) *deviceServer {
	s := &deviceServer{clock: clock, interval: interval, script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *deviceServer) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r.URL.Path+"?"+r.PostForm.Encode())
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q,"error_description":"device %s"}`, code, r.PostForm.Get("device_code"))
	}
	switch r.URL.Path {
	case "/device":
		if r.PostForm.Get("client_id") != "cid" {
			fail("invalid_client")
			return
		}
		ans := map[string]any{"device_code": deviceCanary, "user_code": "WDJB-MJHT",
			"verification_uri": s.URL + "/device-ui", "verification_uri_complete": s.URL + "/device-ui?user_code=WDJB-MJHT", "expires_in": 1800}
		if s.interval > 0 {
			ans["interval"] = s.interval
		}
		json.NewEncoder(w).Encode(ans)
	case "/token":
		if r.PostForm.Get("grant_type") != GrantDeviceCode || r.PostForm.Get("device_code") != deviceCanary {
			fail("invalid_grant")
			return
		}
		now := s.clock.now()
		iv := time.Duration(s.interval) * time.Second
		if iv == 0 {
			iv = 5 * time.Second
		}
		if s.polls > 0 && now.Sub(s.lastPoll) < iv {
			s.early++
		}
		s.lastPoll = now
		step := s.script[min(s.polls, len(s.script)-1)]
		s.polls++
		if step == "slow_down" {
			s.interval = int(iv/time.Second) + 5 // the client must now wait 5 s more
		}
		if step == "ok" {
			fmt.Fprint(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}`)
			return
		}
		fail(step)
	}
}

func deviceConfig(s *deviceServer) Config {
	return Config{ClientID: "cid", TokenURI: s.URL + "/token", DeviceAuthorizationURI: s.URL + "/device",
		Scopes: []string{"read", "write"}, Now: s.clock.now}
}

func TestDeviceFlowPendingSlowDownSuccess(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newDeviceServer(t, clock, 1, "authorization_pending", "authorization_pending", "slow_down", "ok")
	cfg := deviceConfig(s)
	da, err := cfg.StartDeviceAuthorization(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if da.UserCode != "WDJB-MJHT" || da.VerificationURI != s.URL+"/device-ui" || !strings.Contains(da.VerificationURIComplete, "user_code=WDJB-MJHT") ||
		da.Interval != time.Second || !da.ExpiresAt.Equal(clock.now().Add(30*time.Minute)) {
		t.Fatalf("device authorization = %+v", da)
	}
	if got := s.reqs[0]; got != "/device?client_id=cid&scope=read+write" {
		t.Fatalf("device authorization request = %s", got)
	}
	tok, err := cfg.PollDeviceToken(context.Background(), nil, da, clock.wait)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" {
		t.Fatalf("token = %+v", tok)
	}
	want := []time.Duration{time.Second, time.Second, time.Second, 6 * time.Second}
	if fmt.Sprint(clock.waits) != fmt.Sprint(want) {
		t.Fatalf("waits before polls = %v, want %v", clock.waits, want)
	}
	if s.polls != 4 || s.early != 0 {
		t.Fatalf("%d polls, %d too early", s.polls, s.early)
	}
}

func TestDeviceFlowDefaultInterval(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	s := newDeviceServer(t, clock, 0, "authorization_pending", "ok")
	cfg := deviceConfig(s)
	da, err := cfg.StartDeviceAuthorization(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.PollDeviceToken(context.Background(), nil, da, clock.wait); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(clock.waits) != "[5s 5s]" || s.early != 0 {
		t.Fatalf("waits = %v, early polls %d", clock.waits, s.early)
	}
}

func TestDeviceFlowTerminalErrors(t *testing.T) {
	for _, tc := range []struct {
		script []string
		want   error
	}{
		{[]string{"authorization_pending", "access_denied"}, ErrAccessDenied},
		{[]string{"expired_token"}, ErrDeviceCodeExpired},
		{[]string{"authorization_pending"}, ErrDeviceCodeExpired}, // pending until expires_in runs out
		{[]string{"invalid_grant"}, ErrInvalidGrant},
	} {
		t.Run(tc.script[len(tc.script)-1], func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			s := newDeviceServer(t, clock, 60, tc.script...)
			cfg := deviceConfig(s)
			da, err := cfg.StartDeviceAuthorization(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cfg.PollDeviceToken(context.Background(), nil, da, clock.wait)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), deviceCanary) {
				t.Fatalf("device code in error: %v", err)
			}
			if s.polls > 31 {
				t.Fatalf("%d polls in 30 minutes at 60 s", s.polls)
			}
		})
	}
}

func TestDeviceFlowContextCancelled(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	s := newDeviceServer(t, clock, 1, "authorization_pending")
	cfg := deviceConfig(s)
	da, err := cfg.StartDeviceAuthorization(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := func(ctx context.Context, d time.Duration) error {
		if len(clock.waits) == 3 {
			cancel()
		}
		return clock.wait(ctx, d)
	}
	_, err = cfg.PollDeviceToken(ctx, nil, da, wait)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// With the real timer too: it must not hang.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := cfg.PollDeviceToken(ctx2, nil, da, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeviceAuthorizationBadAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"no device_code":    `{"user_code":"A","verification_uri":"https://x.test/d","expires_in":60}`,
		"no user_code":      `{"device_code":"` + deviceCanary + `","verification_uri":"https://x.test/d","expires_in":60}`,
		"javascript uri":    `{"device_code":"` + deviceCanary + `","user_code":"A","verification_uri":"javascript:alert(1)","expires_in":60}`,
		"no expires_in":     `{"device_code":"` + deviceCanary + `","user_code":"A","verification_uri":"https://x.test/d"}`,
		"negative interval": `{"device_code":"` + deviceCanary + `","user_code":"A","verification_uri":"https://x.test/d","expires_in":60,"interval":-1}`,
		"error echo":        `{"error":"invalid_scope","error_description":"cid ` + "secret-sss" + `"}`,
		"huge":              `{"device_code":"` + strings.Repeat("x", MaxResponseSize) + `"}`,
		"html":              `<html>login</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(body))
			}))
			defer srv.Close()
			cfg := Config{ClientID: "cid", ClientSecret: "secret-sss", TokenURI: srv.URL, DeviceAuthorizationURI: srv.URL}
			_, err := cfg.StartDeviceAuthorization(context.Background(), nil)
			var te *TokenError
			if !errors.As(err, &te) || te.Endpoint != "device authorization endpoint" {
				t.Fatalf("err = %v", err)
			}
			if msg := err.Error(); strings.Contains(msg, deviceCanary) || strings.Contains(msg, "secret-sss") || !strings.Contains(msg, "device authorization endpoint") {
				t.Fatalf("err = %v", msg)
			}
		})
	}
	if _, err := (Config{TokenURI: "https://x.test/t"}).StartDeviceAuthorization(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "deviceAuthorizationUri") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigFromMapDeviceOnly(t *testing.T) {
	c, err := ConfigFromMap(map[string]any{"clientId": "c", "tokenUri": "https://a.test/token", "deviceAuthorizationUri": "https://a.test/device"})
	if err != nil || c.DeviceAuthorizationURI != "https://a.test/device" {
		t.Fatalf("%+v, %v", c, err)
	}
	if _, err := ConfigFromMap(map[string]any{"clientId": "c", "tokenUri": "https://a.test/token", "deviceAuthorizationUri": "ftp://a.test/device"}); err == nil || !strings.Contains(err.Error(), "deviceAuthorizationUri") {
		t.Fatalf("err = %v", err)
	}
}
