package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hmacSeen is one request as a loopback server received it.
type hmacSeen struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// hmacRecorder is a loopback API that records what it receives and answers
// with verify's verdict (200, or 401 with the reason).
type hmacRecorder struct {
	mu     sync.Mutex
	seen   []hmacSeen
	verify func(s hmacSeen) error
	// status, when set, answers the first request with it (a 429 to be
	// retried).
	status int
	srv    *httptest.Server
}

func newHMACRecorder(t *testing.T, verify func(hmacSeen) error) *hmacRecorder {
	r := &hmacRecorder{verify: verify}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		s := hmacSeen{method: req.Method, path: req.URL.EscapedPath(), rawQuery: req.URL.RawQuery, header: req.Header.Clone(), body: body}
		r.mu.Lock()
		r.seen = append(r.seen, s)
		first := len(r.seen) == 1
		r.mu.Unlock()
		if first && r.status != 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(r.status)
			return
		}
		if r.verify != nil {
			if err := r.verify(s); err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":%q}`, err.Error())
				return
			}
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hmacRecorder) all() []hmacSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hmacSeen(nil), r.seen...)
}

// bundledEngine loads the bundled connector key, its API host sent to srv.
func bundledEngine(t *testing.T, key string, srv *httptest.Server, opts ...Option) *Engine {
	t.Helper()
	target, _ := url.Parse(srv.URL)
	e := New(append([]Option{WithTransport(&recordingTransport{target: target})}, opts...)...)
	if _, diags := e.Load(filepath.Join("..", "connectors", key)); diags.HasErrors() {
		t.Fatalf("%s does not load: %v", key, diags)
	}
	return e
}

// krakenVerify recomputes Kraken's API-Sign on its own (the documented
// recipe: HMAC-SHA512(base64-decoded secret, path + SHA256(nonce + POST
// data)), base64) and checks the nonce in the body.
func krakenVerify(secret string) func(hmacSeen) error {
	return func(s hmacSeen) error {
		key, err := base64.StdEncoding.DecodeString(secret)
		if err != nil {
			return err
		}
		form, err := url.ParseQuery(string(s.body))
		if err != nil || form.Get("nonce") == "" {
			return fmt.Errorf("no nonce in the body %q", s.body)
		}
		inner := sha256.Sum256([]byte(form.Get("nonce") + string(s.body)))
		mac := hmac.New(sha512.New, key)
		mac.Write([]byte(s.path))
		mac.Write(inner[:])
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); s.header.Get("API-Sign") != want {
			return fmt.Errorf("API-Sign %q, want %q", s.header.Get("API-Sign"), want)
		}
		return nil
	}
}

// Kraken's published example, https://docs.kraken.com/api/docs/guides/spot-rest-auth
// ("Setting the API-Sign Parameter", "Examples").
const (
	krakenDocSecret  = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
	krakenDocNonce   = 1616492376594
	krakenDocPayload = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
	krakenDocSign    = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)

// TestHMACKrakenDocumentedExample: the bundled kraken connector, at the
// documented nonce, sends the documented payload and API-Sign.
func TestHMACKrakenDocumentedExample(t *testing.T) {
	rec := newHMACRecorder(t, krakenVerify(krakenDocSecret))
	e := bundledEngine(t, "kraken", rec.srv)
	e.now = func() time.Time { return time.UnixMilli(krakenDocNonce) }
	cl := mustClient(t, e, Connection{Connector: "kraken", ConnectionParameters: map[string]any{"apiKey": "pub", "privateKey": krakenDocSecret}})
	req, _ := http.NewRequest("POST", "/0/private/AddOrder", strings.NewReader("ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cl.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seen := rec.all()
	if len(seen) != 1 {
		t.Fatalf("%d requests", len(seen))
	}
	s := seen[0]
	if string(s.body) != krakenDocPayload {
		t.Errorf("body %q, want the documented %q", s.body, krakenDocPayload)
	}
	if got := s.header.Get("API-Sign"); got != krakenDocSign {
		t.Errorf("API-Sign %q, want the documented %q", got, krakenDocSign)
	}
	if s.header.Get("API-Key") != "pub" || resp.StatusCode != 200 {
		t.Errorf("API-Key %q, status %d", s.header.Get("API-Key"), resp.StatusCode)
	}
}

// TestHMACKrakenNonceIncreases: requests in the same millisecond, with an
// empty body (which becomes a form), still get increasing nonces, each
// verified.
func TestHMACKrakenNonceIncreases(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("CANARY-kraken-secret-0123456789"))
	rec := newHMACRecorder(t, krakenVerify(secret))
	e := bundledEngine(t, "kraken", rec.srv)
	e.now = func() time.Time { return time.UnixMilli(1_700_000_000_000) }
	cl := mustClient(t, e, Connection{Connector: "kraken", ConnectionParameters: map[string]any{"apiKey": "pub", "privateKey": secret}})
	for range 3 {
		if _, err := cl.Post(context.Background(), "/0/private/Balance", nil); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for _, s := range rec.all() {
		form, _ := url.ParseQuery(string(s.body))
		n, _ := strconv.ParseInt(form.Get("nonce"), 10, 64)
		if n <= last {
			t.Errorf("nonce %d after %d", n, last)
		}
		last = n
	}
}

// coinbaseVerify recomputes CB-ACCESS-SIGN on its own.
func coinbaseVerify(secret string) func(hmacSeen) error {
	return func(s hmacSeen) error {
		key, _ := base64.StdEncoding.DecodeString(secret)
		ts := s.header.Get("CB-ACCESS-TIMESTAMP")
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
			return fmt.Errorf("timestamp %q", ts)
		}
		path := s.path
		if s.rawQuery != "" {
			path += "?" + s.rawQuery
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ts + s.method + path + string(s.body)))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); s.header.Get("CB-ACCESS-SIGN") != want {
			return fmt.Errorf("CB-ACCESS-SIGN %q, want %q", s.header.Get("CB-ACCESS-SIGN"), want)
		}
		return nil
	}
}

// TestHMACCoinbaseVerified: the bundled coinbase-exchange connector's
// requests (a query, a JSON body, a retried one) each verify on an
// independent server; the retry is signed again, over the same body.
func TestHMACCoinbaseVerified(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("CANARY-coinbase-secret-abcdef"))
	rec := newHMACRecorder(t, coinbaseVerify(secret))
	rec.status = http.StatusTooManyRequests
	e := bundledEngine(t, "coinbase-exchange", rec.srv)
	clock := newJWTClock()
	e.now = clock.now
	cl := mustClient(t, e, Connection{Connector: "coinbase-exchange", ConnectionParameters: map[string]any{"apiKey": "k", "apiSecret": secret, "passphrase": "CANARY-pass"}})
	body := `{"price":"1.0","size":"1.0","side":"buy","product_id":"BTC-USD"}`
	req, _ := http.NewRequest("POST", "/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d after the retry", resp.StatusCode)
	}
	clock.add(2 * time.Second)
	if got := get(t, cl, "/fills?product_id=BTC-USD&limit=2"); got["ok"] != true {
		t.Fatalf("got %v", got)
	}
	seen := rec.all()
	if len(seen) != 3 {
		t.Fatalf("%d requests, want 3 (429, retry, GET)", len(seen))
	}
	if string(seen[0].body) != body || string(seen[1].body) != body {
		t.Errorf("bodies %q, %q, want the body twice", seen[0].body, seen[1].body)
	}
	for i, s := range seen {
		if err := coinbaseVerify(secret)(s); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		if s.header.Get("CB-ACCESS-PASSPHRASE") != "CANARY-pass" || s.header.Get("CB-ACCESS-KEY") != "k" {
			t.Errorf("request %d: key or passphrase missing", i)
		}
	}
}

// hmacConnector is a connector whose getSignatureConfig is the mapping cfg
// (lines indented by six spaces).
func hmacConnector(cfg string) string {
	return `name: H
key: c
auth:
  type: hmac-signature
  ui:
    schema:
      type: object
      properties:
        secret: {type: string, format: password}
  getSignatureConfig:
    mapping:
` + cfg + `  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
`
}

// TestHMACTemplates: each template part, digest, placement and format,
// checked against a string to sign the test builds on its own from what
// the server received.
func TestHMACTemplates(t *testing.T) {
	const secret = "CANARY-raw-secret"
	at := time.Date(2026, 12, 3, 10, 4, 5, 678e6, time.UTC)
	hexOf := func(b []byte) string { return hex.EncodeToString(b) }
	sum256 := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	for name, c := range map[string]struct {
		cfg  string
		send func() *http.Request
		// want builds the string to sign, the key and the signature's
		// header or query name from what the server saw.
		want   func(s hmacSeen) (msg string, sig string)
		sha512 bool
		b64    bool
	}{
		"method path canonical query, hex, header prefix": {
			cfg:  "      key: {$var: connectionInput.secret}\n      algorithm: HMAC-SHA256\n      stringToSign: [\"{method}\", \"{path}\", \"{canonicalQuery}\", \"{timestamp}\"]\n      signature: {header: Authorization, prefix: \"HMAC \"}\n      timestamp: {header: X-Date, format: rfc3339}\n",
			send: func() *http.Request { r, _ := http.NewRequest("GET", "/a%20b?z=1&a=2&a=1&m=x+y", nil); return r },
			want: func(s hmacSeen) (string, string) {
				return "GET\n/v1/a%20b\na=1&a=2&m=x%20y&z=1\n2026-12-03T10:04:05Z", strings.TrimPrefix(s.header.Get("Authorization"), "HMAC ")
			},
		},
		"query as sent, signature and timestamp in the query (Binance style)": {
			cfg:  "      key: {$var: connectionInput.secret}\n      algorithm: HMAC-SHA256\n      stringToSign: \"{query}\"\n      signature: {query: signature}\n      timestamp: {query: timestamp, format: unixMillis}\n",
			send: func() *http.Request { r, _ := http.NewRequest("GET", "/order?symbol=LTCBTC&side=BUY", nil); return r },
			want: func(s hmacSeen) (string, string) {
				q := s.rawQuery
				i := strings.LastIndex(q, "&signature=")
				if !strings.HasSuffix(q[:i], "&timestamp=1796292245678") {
					return "timestamp missing from " + q, ""
				}
				return q[:i], q[i+len("&signature="):]
			},
		},
		"body digests, SHA-512, base64, key id, literal braces": {
			cfg: "      key: {$var: connectionInput.secret}\n      algorithm: HMAC-SHA512\n      encoding: base64\n      stringToSign: \"{{{keyId}}}{bodySha256Hex}|{sha256Base64({nonce}{body})}|{host}\"\n      signature: {header: X-Sig}\n      nonce: {header: X-Nonce}\n      keyId: {value: id-7, header: X-Key}\n",
			send: func() *http.Request {
				r, _ := http.NewRequest("PUT", "/x", strings.NewReader(`{"a":1}`))
				r.Header.Set("Content-Type", "application/json")
				return r
			},
			want: func(s hmacSeen) (string, string) {
				n := s.header.Get("X-Nonce")
				inner := sum256([]byte(n + `{"a":1}`))
				return "{id-7}" + hexOf(sum256([]byte(`{"a":1}`))) + "|" + base64.StdEncoding.EncodeToString(inner) + "|" + strings.ToLower(s.header.Get("X-Test-Host")), s.header.Get("X-Sig")
			},
			sha512: true, b64: true,
		},
		"nonce and timestamp in a JSON body": {
			cfg: "      key: {$var: connectionInput.secret}\n      algorithm: HMAC-SHA256\n      stringToSign: \"{body}\"\n      signature: {header: X-Sig}\n      nonce: {body: nonce, kind: counter}\n      timestamp: {body: ts, format: unixSeconds}\n",
			send: func() *http.Request {
				r, _ := http.NewRequest("POST", "/x", strings.NewReader(`{"a":[1]}`))
				r.Header.Set("Content-Type", "application/json")
				return r
			},
			want: func(s hmacSeen) (string, string) {
				if string(s.body) != `{"nonce":1796292245678,"ts":1796292245,"a":[1]}` {
					return "body " + string(s.body), ""
				}
				return string(s.body), s.header.Get("X-Sig")
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			rec := newHMACRecorder(t, nil)
			e := newEngine(t, rec.srv, hmacConnector(c.cfg))
			e.now = func() time.Time { return at }
			cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"secret": secret}})
			req := c.send()
			resp, err := cl.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			s := rec.all()[0]
			s.header.Set("X-Test-Host", strings.TrimPrefix(rec.srv.URL, "http://"))
			msg, sig := c.want(s)
			h := sha256.New
			if c.sha512 {
				h = sha512.New
			}
			mac := hmac.New(h, []byte(secret))
			mac.Write([]byte(msg))
			want := hex.EncodeToString(mac.Sum(nil))
			if c.b64 {
				want = base64.StdEncoding.EncodeToString(mac.Sum(nil))
			}
			if sig != want {
				t.Errorf("signature %q, want %q over %q", sig, want, msg)
			}
		})
	}
}

// TestHMACConfigRefused: what the kind cannot do as written is refused,
// naming it: at load for a literal mapping (at its line:col), when the
// method runs for JavaScript; the key never shows.
func TestHMACConfigRefused(t *testing.T) {
	base := "      key: {$var: connectionInput.secret}\n      algorithm: HMAC-SHA256\n      stringToSign: \"{method}{path}\"\n      signature: {header: X-Sig}\n"
	for name, c := range map[string]struct{ edit, want string }{
		"unknown part":            {strings.Replace(base, "{path}", "{pth}", 1), `c.yml:14:30: error: getSignatureConfig: stringToSign: unknown part {pth}`},
		"unknown digest":          {strings.Replace(base, "{path}", "{md5Hex({body})}", 1), `unknown digest {md5Hex(...)}`},
		"unclosed digest":         {strings.Replace(base, "{path}", "{sha256({body}", 1), `not closed`},
		"lone brace":              {strings.Replace(base, "{path}", "}", 1), `lone "}"`},
		"unknown algorithm":       {strings.Replace(base, "HMAC-SHA256", "HMAC-MD5", 1), `c.yml:13:18: error: getSignatureConfig: algorithm "HMAC-MD5" is not supported`},
		"unknown key":             {base + "      keyEncode: hex\n", `has no key "keyEncode"`},
		"two places":              {strings.Replace(base, "{header: X-Sig}", "{header: X-Sig, query: sig}", 1), "one place"},
		"unknown timestamp":       {base + "      timestamp: {header: T, format: iso}\n", `timestamp.format "iso" is not supported`},
		"timestamp not declared":  {strings.Replace(base, "{path}", "{timestamp}", 1), "uses {timestamp} but the result has no timestamp block"},
		"no signature place":      {strings.Replace(base, "      signature: {header: X-Sig}\n", "", 1), "signature is required"},
		"bad base64 key":          {base + "      keyEncoding: base64\n", "key is not valid base64"},
		"bad hex key":             {base + "      keyEncoding: hex\n", "key is not valid hex"},
		"unknown output encoding": {base + "      encoding: base32\n", `encoding "base32" is not supported`},
	} {
		t.Run(name, func(t *testing.T) {
			src := strings.ReplaceAll(hmacConnector(c.edit), "{{URL}}", "http://127.0.0.1:1")
			e := New()
			if _, diags := e.LoadFS(fsOf(src), "c.yml"); diags.HasErrors() {
				if !strings.Contains(diags.Error(), c.want) {
					t.Errorf("load: %v, want %q", diags, c.want)
				}
				return
			}
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"secret": "CANARY!not*base64*or*hex"}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "CANARY") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
	// JavaScript: the same checks when the method runs.
	js := strings.Replace(hmacConnector(""), "    mapping:\n  makeApiClient", "    implementationType: javascript\n    code: |\n      export default ({connectionInput}) => ({key: connectionInput.secret, algorithm: 'HMAC-SHA256', stringToSign: '{method}{bdy}', signature: {header: 'X'}})\n  makeApiClient", 1)
	_, err := newEngine(t, nil, strings.ReplaceAll(js, "{{URL}}", "http://127.0.0.1:1")).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"secret": "CANARY-js"}})
	if err == nil || !strings.Contains(err.Error(), "unknown part {bdy}") || strings.Contains(err.Error(), "CANARY") {
		t.Errorf("javascript result with an unknown part: %v", err)
	}
}

// TestHMACBodyRefusedOrBuffered: a body over MaxSignedBody is refused
// before anything is sent; a streaming body (no GetBody) is read once and
// sent whole; a body field already there is refused, not sent twice.
func TestHMACBodyRefusedOrBuffered(t *testing.T) {
	rec := newHMACRecorder(t, nil)
	cfg := "      key: {$var: connectionInput.secret}\n      algorithm: HMAC-SHA256\n      stringToSign: \"{bodySha256Hex}\"\n      signature: {header: X-Sig}\n      nonce: {body: nonce}\n"
	e := newEngine(t, rec.srv, hmacConnector(cfg))
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"secret": "CANARY-body"}})

	huge := io.MultiReader(strings.NewReader("a="), io.LimitReader(zeros{}, MaxSignedBody+10))
	req, _ := http.NewRequest("POST", "/x", huge)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := cl.HTTPClient().Do(req); err == nil || !strings.Contains(err.Error(), "larger than 8388608 bytes") {
		t.Errorf("huge body: %v", err)
	}
	req, _ = http.NewRequest("POST", "/x", strings.NewReader("a=1&nonce=2"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := cl.HTTPClient().Do(req); err == nil || !strings.Contains(err.Error(), "already has a field nonce") {
		t.Errorf("body with a nonce: %v", err)
	}
	req, _ = http.NewRequest("POST", "/x", strings.NewReader("<xml/>"))
	req.Header.Set("Content-Type", "text/xml")
	if _, err := cl.HTTPClient().Do(req); err == nil || !strings.Contains(err.Error(), "must be a form or a JSON object") {
		t.Errorf("xml body: %v", err)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	// A stream without GetBody.
	req, _ = http.NewRequest("POST", "/x", io.NopCloser(strings.NewReader("a=1")))
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cl.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := rec.all()[0]
	if !strings.HasSuffix(string(s.body), "&a=1") || !strings.HasPrefix(string(s.body), "nonce=") {
		t.Errorf("sent body %q", s.body)
	}
	sum := sha256.Sum256(s.body)
	mac := hmac.New(sha256.New, []byte("CANARY-body"))
	mac.Write([]byte(hex.EncodeToString(sum[:])))
	if s.header.Get("X-Sig") != hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature does not verify over the sent body")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestHMACKeyNeverShown: the secret (a canary) shows in no error, log
// line or redacted text, whatever fails.
func TestHMACKeyNeverShown(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("CANARY-never-shown-0001"))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The API echoes everything it got, and refuses.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"bad signature","got":%q}`, r.Header)
	}))
	defer srv.Close()
	e := bundledEngine(t, "coinbase-exchange", srv, WithLogger(logger))
	cl := mustClient(t, e, Connection{Connector: "coinbase-exchange", ConnectionParameters: map[string]any{"apiKey": "k", "apiSecret": secret, "passphrase": "p"}})
	_, err := cl.Get(context.Background(), "/accounts")
	if err == nil {
		t.Fatal("no error")
	}
	_, bad := e.Client(context.Background(), Connection{Connector: "coinbase-exchange", ConnectionParameters: map[string]any{"apiKey": "k", "apiSecret": secret + "!", "passphrase": "p"}})
	if bad == nil {
		t.Fatal("a secret that is not base64 was taken")
	}
	var ce *ConnectionError
	if !errors.As(err, &ce) || ce.Key != KeyConnectionIsDefunct {
		t.Errorf("want the response handler's defunct connection, got %v", err)
	}
	for where, out := range map[string]string{"error": err.Error(), "bad key error": bad.Error(), "Redact": cl.Redact("secret " + secret), "log": logs.String(), "session": fmt.Sprintf("%+v %#v", cl.session, cl.session)} {
		// The decoded key printed as bytes ("[67 65 78 ...") counts too.
		asBytes := strings.Trim(fmt.Sprint([]byte("CANARY-never")), "[]")
		if strings.Contains(out, secret) || strings.Contains(out, "CANARY") || strings.Contains(out, asBytes) {
			t.Errorf("the secret shows in the %s: %s", where, out)
		}
	}
}

// BenchmarkHMACSigning: one request signed by the bundled kraken
// connector (HMAC-SHA512 over the path and a SHA-256 of nonce + body)
// against the same request with a bare API key header.
func BenchmarkHMACSigning(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64))
	run := func(b *testing.B, cl *Client) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("POST", "/0/private/AddOrder", strings.NewReader("ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := cl.HTTPClient().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	target, _ := url.Parse(srv.URL)
	b.Run("bare", func(b *testing.B) {
		e := newEngine(b, srv, apiKeyHeader, WithTransport(&recordingTransport{target: target}))
		run(b, mustClient(b, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_abc"}}))
	})
	b.Run("hmac-kraken", func(b *testing.B) {
		e := New(WithTransport(&recordingTransport{target: target}))
		if _, diags := e.Load(filepath.Join("..", "connectors", "kraken")); diags.HasErrors() {
			b.Fatal(diags)
		}
		run(b, mustClient(b, e, Connection{Connector: "kraken", ConnectionParameters: map[string]any{"apiKey": "pub", "privateKey": secret}}))
	})
}

// BenchmarkHMACSignOnly: the signing step alone (Kraken's scheme: nonce
// into the form body, SHA-256 then HMAC-SHA512), without the round trip.
func BenchmarkHMACSignOnly(b *testing.B) {
	s, err := parseHMACConfig(map[string]any{
		"key": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64)), "keyEncoding": "base64",
		"algorithm": "HMAC-SHA512", "encoding": "base64", "stringToSign": "{path}{sha256({nonce}{body})}",
		"signature": map[string]any{"header": "API-Sign"}, "nonce": map[string]any{"body": "nonce", "kind": "counter"},
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "https://api.kraken.com/0/private/AddOrder", strings.NewReader("ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := s.sign(req, now); err != nil {
			b.Fatal(err)
		}
	}
}
