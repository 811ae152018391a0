package jwtgrant

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeGitHub is a loopback GitHub API that checks the app JWT the way
// GitHub does (RS256 only, signature with the app's public key, iat not in
// the future, exp at most 10 minutes after iat and not passed) before it
// issues an installation token.
type fakeGitHub struct {
	*httptest.Server
	appID  string
	calls  atomic.Int32
	body   atomic.Value // string: the last request body
	answer func(w http.ResponseWriter, r *http.Request) bool
}

func newFakeGitHub(t *testing.T, appID string, clock func() time.Time) *fakeGitHub {
	t.Helper()
	testKeys(t)
	g := &fakeGitHub{appID: appID}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		g.body.Store(string(b))
		if g.answer != nil && g.answer(w, r) {
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/app/installations/4242/access_tokens" {
			http.Error(w, `{"message":"Not Found"}`, 404)
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" {
			http.Error(w, `{"message":"bad Accept"}`, 415)
			return
		}
		if msg := g.check(r.Header.Get("Authorization"), clock()); msg != "" {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]string{"message": msg})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, `{"token":"ghs_installation_token_1","expires_at":"2026-03-01T13:00:00Z","permissions":{"contents":"read"}}`)
	}))
	t.Cleanup(g.Close)
	return g
}

// check returns why GitHub would refuse the Authorization header, or "".
func (g *fakeGitHub) check(auth string, at time.Time) string {
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return "no Bearer JWT"
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &rsaKey.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return at }), jwt.WithIssuer(g.appID),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil {
		return "A JSON web token could not be decoded: " + err.Error()
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if exp.Sub(iat.Time) > 10*time.Minute {
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}

func githubKey(t *testing.T) *Key {
	t.Helper()
	testKeys(t)
	k, err := ParsePrivateKey(pkcs1PEM(rsaKey), "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGitHubAppJWTClaims(t *testing.T) {
	k := githubKey(t)
	tok, err := GitHubAppJWT(k, "123456", now)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := verify(t, tok, "RS256", &rsaKey.PublicKey)
	if claims["iss"] != "123456" {
		t.Errorf("iss = %v", claims["iss"])
	}
	if claims["iat"] != float64(now.Add(-60*time.Second).Unix()) {
		t.Errorf("iat = %v, want 60 s before now", claims["iat"])
	}
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if exp-iat > 600 || exp <= float64(now.Unix()) {
		t.Errorf("exp - iat = %v s (exp %v), want at most 600 and in the future", exp-iat, exp)
	}

	es, _ := ParsePrivateKey(pkcs8PEM(t, p256Key), "")
	ps, _ := ParsePrivateKey(pkcs8PEM(t, rsaKey), "PS256")
	for name, bad := range map[string]struct {
		k  *Key
		id string
	}{"ES256 key": {es, "1"}, "PS256 key": {ps, "1"}, "nil key": {nil, "1"}, "empty id": {k, ""}, "id with space": {k, "1 2"}} {
		if _, err := GitHubAppJWT(bad.k, bad.id, now); err == nil {
			t.Errorf("%s: GitHubAppJWT signed", name)
		}
	}
}

// TestGitHubInstallationToken runs the whole exchange against a loopback
// GitHub that verifies the app JWT independently, at clocks skewed either
// way within what GitHub's rules allow.
func TestGitHubInstallationToken(t *testing.T) {
	k := githubKey(t)
	for _, skew := range []time.Duration{0, -50 * time.Second, 8 * time.Minute} {
		g := newFakeGitHub(t, "123456", func() time.Time { return now.Add(skew) })
		appJWT, err := GitHubAppJWT(k, "123456", now)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ExchangeInstallationToken(context.Background(), g.Client(), appJWT, InstallationTokenRequest{APIBase: g.URL + "/", InstallationID: "4242"})
		if err != nil {
			t.Fatalf("server clock %v off: %v", skew, err)
		}
		if tok.Token != "ghs_installation_token_1" || !tok.ExpiresAt.Equal(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)) {
			t.Errorf("token = %+v", tok)
		}
		if b := g.body.Load(); b != "" {
			t.Errorf("body = %q, want none without repositories or permissions", b)
		}
	}

	g := newFakeGitHub(t, "123456", func() time.Time { return now })
	appJWT, _ := GitHubAppJWT(k, "123456", now)
	_, err := ExchangeInstallationToken(context.Background(), g.Client(), appJWT, InstallationTokenRequest{APIBase: g.URL, InstallationID: "4242",
		Repositories: []string{"hello-world"}, Permissions: map[string]string{"contents": "read"}})
	if err != nil {
		t.Fatal(err)
	}
	if b := g.body.Load().(string); b != `{"permissions":{"contents":"read"},"repositories":["hello-world"]}` {
		t.Errorf("body = %s", b)
	}

	// A JWT GitHub would refuse (signed too long ago) gives the 401, not a token.
	late := newFakeGitHub(t, "123456", func() time.Time { return now.Add(11 * time.Minute) })
	_, err = ExchangeInstallationToken(context.Background(), late.Client(), appJWT, InstallationTokenRequest{APIBase: late.URL, InstallationID: "4242"})
	var ge *GitHubError
	if !errors.As(err, &ge) || ge.Status != 401 || ge.Transient {
		t.Errorf("expired app JWT: err = %v, want a final 401 GitHubError", err)
	}
}

// TestGitHubInstallationTokenRefuses: ids that would change the URL path,
// bad bases, GitHub's failures and answers that are not a usable token all
// give errors; none carries the app JWT.
func TestGitHubInstallationTokenRefuses(t *testing.T) {
	k := githubKey(t)
	appJWT, _ := GitHubAppJWT(k, "123456", now)
	g := newFakeGitHub(t, "123456", func() time.Time { return now })
	ctx := context.Background()

	for _, id := range []string{"", "../../user", "4242/../1", "4242?x=1", "-1", "42 42", "0x10", "１２"} {
		before := g.calls.Load()
		_, err := ExchangeInstallationToken(ctx, g.Client(), appJWT, InstallationTokenRequest{APIBase: g.URL, InstallationID: id})
		if err == nil || !strings.Contains(err.Error(), "installation id") {
			t.Errorf("installation id %q: err = %v, want a refusal", id, err)
		}
		if g.calls.Load() != before {
			t.Errorf("installation id %q: a request was sent", id)
		}
	}
	for _, base := range []string{"ftp://api.github.com", "api.github.com", "https://h/api?x=1", "://"} {
		if _, err := ExchangeInstallationToken(ctx, g.Client(), appJWT, InstallationTokenRequest{APIBase: base, InstallationID: "1"}); err == nil {
			t.Errorf("API base %q accepted", base)
		}
	}
	if _, err := ExchangeInstallationToken(ctx, g.Client(), "", InstallationTokenRequest{APIBase: g.URL, InstallationID: "4242"}); err == nil {
		t.Error("an empty app JWT was sent")
	}

	cases := []struct {
		name      string
		status    int
		body      string
		transient bool
		notFound  bool
		want      string
	}{
		{"uninstalled", 404, `{"message":"Not Found"}`, false, true, "HTTP 404: Not Found"},
		{"bad JWT echoed", 401, `{"message":"bad JWT ECHO"}`, false, false, "HTTP 401: bad JWT Bearer [redacted]"},
		{"server error", 502, `<html>bad gateway</html>`, true, false, "HTTP 502"},
		{"rate limited", 429, `{"message":"slow down"}`, true, false, "slow down"},
		{"no expiry", 201, `{"token":"ghs_x"}`, true, false, "no valid expires_at"},
		{"bad expiry", 201, `{"token":"ghs_x","expires_at":"tomorrow"}`, true, false, "no valid expires_at"},
		{"no token", 201, `{"expires_at":"2026-03-01T13:00:00Z"}`, true, false, "no token"},
		{"not JSON", 200, `token=ghs_x`, true, false, "not a JSON object"},
		{"redirect", 307, ``, false, false, "HTTP 307"},
		{"huge", 201, `{"token":"` + strings.Repeat("a", 1<<20) + `"}`, true, false, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.answer = func(w http.ResponseWriter, r *http.Request) bool {
				if tc.status == 307 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, strings.ReplaceAll(tc.body, "ECHO", r.Header.Get("Authorization")))
				return true
			}
			_, err := ExchangeInstallationToken(ctx, g.Client(), appJWT, InstallationTokenRequest{APIBase: g.URL, InstallationID: "4242"})
			var ge *GitHubError
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want a *GitHubError", err)
			}
			if ge.Transient != tc.transient || errors.Is(err, ErrInstallationNotFound) != tc.notFound {
				t.Errorf("err = %v: transient %v, not found %v; want %v, %v", err, ge.Transient, errors.Is(err, ErrInstallationNotFound), tc.transient, tc.notFound)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), appJWT) || strings.Contains(err.Error(), strings.Split(appJWT, ".")[2]) {
				t.Errorf("err = %q carries the app JWT", err)
			}
		})
	}
	g.answer = nil

	// Unreachable: transient, and the error does not repeat the URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	_, err := ExchangeInstallationToken(ctx, nil, appJWT, InstallationTokenRequest{APIBase: dead.URL, InstallationID: "4242"})
	var ge *GitHubError
	if !errors.As(err, &ge) || !ge.Transient || strings.Contains(err.Error(), dead.URL) {
		t.Errorf("unreachable: err = %v, want a transient GitHubError without the URL", err)
	}
}
