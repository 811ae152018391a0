package oauth1

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The provider below checks signatures with its own reading of RFC 5849
// section 3, written from the RFC text and sharing no code with the package
// (no Encode, BaseString, CollectParams or Signature).

const rfcUnreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// rfcEncode is section 3.6.
func rfcEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(rfcUnreserved, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// rfcDecode undoes percent-encoding; with plus it also reads "+" as a space,
// as form decoding does.
func rfcDecode(s string, plus bool) (string, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '%':
			if i+2 >= len(s) {
				return "", errors.New("short escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			out = append(out, byte(v))
			i += 2
		case s[i] == '+' && plus:
			out = append(out, ' ')
		default:
			out = append(out, s[i])
		}
	}
	return string(out), nil
}

type pair struct{ k, v string }

// rfcVerify checks the signature of r and returns its parameters (the first
// value of each).
// secretOf returns the token secret of an oauth_token ("" for none).
func rfcVerify(r *http.Request, consumerSecret string, secretOf func(token string) (string, bool)) (map[string]string, error) {
	var pairs []pair
	proto := map[string]string{}
	add := func(k, v string) {
		if _, dup := proto[k]; dup && strings.HasPrefix(k, "oauth_") {
			proto["duplicate"] = k
		}
		if _, seen := proto[k]; !seen {
			proto[k] = v
		}
		if k != "oauth_signature" {
			pairs = append(pairs, pair{k, v})
		}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if !strings.HasPrefix(h, "OAuth ") {
			return nil, errors.New("not an OAuth header")
		}
		for _, item := range strings.Split(h[len("OAuth "):], ",") {
			item = strings.TrimSpace(item)
			eq := strings.Index(item, "=")
			if eq < 0 || !strings.HasPrefix(item[eq+1:], `"`) || !strings.HasSuffix(item, `"`) {
				return nil, fmt.Errorf("malformed header item %q", item)
			}
			name, quoted := item[:eq], item[eq+2:len(item)-1]
			if name == "realm" {
				continue // section 3.4.1.3.1: never signed
			}
			val, err := rfcDecode(quoted, false)
			if err != nil {
				return nil, err
			}
			add(name, val)
		}
	}
	form := func(s string) error {
		for _, item := range strings.Split(s, "&") {
			if item == "" {
				continue
			}
			name, val, _ := strings.Cut(item, "=")
			dn, err := rfcDecode(name, true)
			if err != nil {
				return err
			}
			dv, err := rfcDecode(val, true)
			if err != nil {
				return err
			}
			add(dn, dv)
		}
		return nil
	}
	if err := form(r.URL.RawQuery); err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if err := form(string(body)); err != nil {
			return nil, err
		}
	}
	if d := proto["duplicate"]; d != "" {
		return nil, fmt.Errorf("protocol parameter %s sent twice", d)
	}

	encoded := make([]pair, len(pairs))
	for i, p := range pairs {
		encoded[i] = pair{rfcEncode(p.k), rfcEncode(p.v)}
	}
	sort.Slice(encoded, func(i, j int) bool {
		if encoded[i].k != encoded[j].k {
			return encoded[i].k < encoded[j].k
		}
		return encoded[i].v < encoded[j].v
	})
	joined := make([]string, len(encoded))
	for i, p := range encoded {
		joined[i] = p.k + "=" + p.v
	}
	baseURI := "http://" + strings.ToLower(r.Host) + r.URL.EscapedPath()
	base := rfcEncode(r.Method) + "&" + rfcEncode(baseURI) + "&" + rfcEncode(strings.Join(joined, "&"))

	tokenSecret := ""
	if tok := proto["oauth_token"]; tok != "" {
		s, ok := secretOf(tok)
		if !ok {
			return nil, errors.New("token_rejected")
		}
		tokenSecret = s
	}
	key := rfcEncode(consumerSecret) + "&" + rfcEncode(tokenSecret)
	var want string
	mac := func(h func() hash.Hash) string {
		m := hmac.New(h, []byte(key))
		io.WriteString(m, base)
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	switch proto["oauth_signature_method"] {
	case "HMAC-SHA1":
		want = mac(sha1.New)
	case "HMAC-SHA256":
		want = mac(sha256.New)
	case "PLAINTEXT":
		want = key
	default:
		return nil, errors.New("signature_method_rejected")
	}
	if !hmac.Equal([]byte(want), []byte(proto["oauth_signature"])) {
		return nil, errors.New("signature_invalid")
	}
	return proto, nil
}

// provider is a three-legged OAuth 1.0a provider on loopback.
type provider struct {
	consumerKey, consumerSecret string
	wantScope                   string

	mu      sync.Mutex
	n       int
	nonces  map[string]bool
	temp    map[string][3]string // token: secret, verifier, callback
	access  map[string]string    // token: secret
	lastErr error
}

func newProvider(consumerKey, consumerSecret string) (*provider, *httptest.Server) {
	p := &provider{
		consumerKey: consumerKey, consumerSecret: consumerSecret,
		nonces: map[string]bool{}, temp: map[string][3]string{}, access: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /initiate", p.initiate)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("/photos", p.photos)
	return p, httptest.NewServer(mux)
}

// check verifies a request; secrets says which tokens are acceptable.
func (p *provider) check(w http.ResponseWriter, r *http.Request, secrets map[string]string) (map[string]string, bool) {
	proto, err := rfcVerify(r, p.consumerSecret, func(tok string) (string, bool) {
		s, ok := secrets[tok]
		return s, ok
	})
	if err == nil && proto["oauth_consumer_key"] != p.consumerKey {
		err = errors.New("consumer_key_unknown")
	}
	if err == nil {
		ts, perr := strconv.ParseInt(proto["oauth_timestamp"], 10, 64)
		if perr != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
			err = errors.New("timestamp_refused")
		}
	}
	if err == nil {
		key := proto["oauth_timestamp"] + "/" + proto["oauth_nonce"]
		if proto["oauth_nonce"] == "" || p.nonces[key] {
			err = errors.New("nonce_used")
		}
		p.nonces[key] = true
	}
	if err != nil {
		p.lastErr = err
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, url.Values{"oauth_problem": {err.Error()}}.Encode())
		return nil, false
	}
	return proto, true
}

func (p *provider) initiate(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	proto, ok := p.check(w, r, nil)
	if !ok {
		return
	}
	if proto["oauth_callback"] == "" || proto["scope"] != p.wantScope {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "oauth_problem=parameter_absent")
		return
	}
	p.n++
	tok, secret, verifier := fmt.Sprintf("tmp-%d", p.n), fmt.Sprintf("tmp secret+/%d", p.n), fmt.Sprintf("ver-%d", p.n)
	p.temp[tok] = [3]string{secret, verifier, proto["oauth_callback"]}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	io.WriteString(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {secret}, "oauth_callback_confirmed": {"true"}}.Encode())
}

// authorize plays the resource owner who agrees at once.
func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tc, ok := p.temp[r.URL.Query().Get("oauth_token")]
	if !ok {
		http.Error(w, "unknown token", http.StatusBadRequest)
		return
	}
	cb, _ := url.Parse(tc[2])
	q := cb.Query()
	q.Set("oauth_token", r.URL.Query().Get("oauth_token"))
	q.Set("oauth_verifier", tc[1])
	cb.RawQuery = q.Encode()
	http.Redirect(w, r, cb.String(), http.StatusFound)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	secrets := map[string]string{}
	for tok, tc := range p.temp {
		secrets[tok] = tc[0]
	}
	proto, ok := p.check(w, r, secrets)
	if !ok {
		return
	}
	tc := p.temp[proto["oauth_token"]]
	if proto["oauth_verifier"] != tc[1] {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "oauth_problem=verifier_invalid")
		return
	}
	delete(p.temp, proto["oauth_token"])
	p.n++
	tok, secret := fmt.Sprintf("acc-%d", p.n), fmt.Sprintf("acc&secret %d", p.n)
	p.access[tok] = secret
	io.WriteString(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {secret}, "user_id": {"42"}, "screen_name": {"alice"}}.Encode())
}

func (p *provider) photos(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.check(w, r, p.access); !ok {
		return
	}
	io.WriteString(w, "ok")
}

func TestThreeLeggedFlow(t *testing.T) {
	for _, method := range []string{HMACSHA1, HMACSHA256, PLAINTEXT} {
		for _, placement := range []string{PlacementHeader, PlacementQuery, PlacementBody} {
			t.Run(method+"/"+placement, func(t *testing.T) {
				p, srv := newProvider("key & co", "consumer secret/+=")
				defer srv.Close()
				p.wantScope = "photos.read photos.write"
				cfg, err := ConfigFromMap(map[string]any{
					"consumerKey":     "key & co",
					"consumerSecret":  "consumer secret/+=",
					"requestTokenUri": srv.URL + "/initiate",
					"authorizeUri":    srv.URL + "/authorize?lang=en",
					"tokenUri":        srv.URL + "/token",
					"scopes":          []any{"photos.read", "photos.write"},
					"extra":           map[string]any{"name": "My App", "expiration": "never"},
					"signatureMethod": method,
					"placement":       placement,
					"realm":           "Photos",
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				hc := srv.Client()

				temp, err := cfg.RequestToken(ctx, hc, "https://app.example/callback?state=s1")
				if err != nil {
					t.Fatalf("RequestToken: %v (provider: %v)", err, p.lastErr)
				}
				if temp.Raw["oauth_callback_confirmed"] != "true" || temp.Secret == "" {
					t.Fatalf("temporary credentials %+v", temp)
				}

				authURL, err := cfg.AuthorizationURL(temp)
				if err != nil {
					t.Fatal(err)
				}
				au, _ := url.Parse(authURL)
				if q := au.Query(); q.Get("lang") != "en" || q.Get("name") != "My App" || q.Get("expiration") != "never" || q.Get("oauth_token") != temp.Token {
					t.Fatalf("authorization URL %s", authURL)
				}
				// The user agrees; the provider redirects to the callback.
				noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := noFollow.Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				cb, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || cb.Query().Get("state") != "s1" {
					t.Fatalf("callback %q", resp.Header.Get("Location"))
				}
				verifier, err := ParseCallback(cb.Query(), temp)
				if err != nil {
					t.Fatal(err)
				}

				tok, err := cfg.AccessToken(ctx, hc, temp, verifier)
				if err != nil {
					t.Fatalf("AccessToken: %v (provider: %v)", err, p.lastErr)
				}
				if tok.Raw["screen_name"] != "alice" || tok.Raw["user_id"] != "42" || !strings.HasPrefix(tok.Token, "acc-") {
					t.Fatalf("token %+v", tok)
				}
				// The temporary credentials are used up.
				if _, err := cfg.AccessToken(ctx, hc, temp, verifier); err == nil {
					t.Error("temporary credentials worked twice")
				}

				// Resource requests with duplicate, encoded and form parameters.
				for _, rr := range []struct{ method, path, ctype, body string }{
					{"GET", "/photos?file=vacation.jpg&tag=a&tag=b&q=r%20b+c&empty", "", ""},
					{"POST", "/photos?a3=a", "application/x-www-form-urlencoded", "c2&a3=2+q&snow=%E2%98%83&a3=a"},
					{"PUT", "/photos", "application/json", `{"a":"b"}`},
				} {
					if placement == PlacementBody && rr.ctype == "application/json" {
						continue
					}
					if placement == PlacementBody && rr.method == "GET" {
						continue
					}
					req := newRequest(t, rr.method, srv.URL+rr.path, rr.ctype, rr.body)
					if err := cfg.Sign(req, tok, nil); err != nil {
						t.Fatal(err)
					}
					resp, err := hc.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("%s %s: %d %s", rr.method, rr.path, resp.StatusCode, body)
					}
				}
			})
		}
	}
}

// The provider's check is a real one: a wrong secret fails it.
func TestProviderRejectsBadSignature(t *testing.T) {
	p, srv := newProvider("ck", "right")
	defer srv.Close()
	cfg := Config{ConsumerKey: "ck", ConsumerSecret: "wrong", RequestTokenURI: srv.URL + "/initiate"}
	_, err := cfg.RequestToken(context.Background(), srv.Client(), "")
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Status != 401 || pe.Problem != "signature_invalid" || pe.Transient {
		t.Fatalf("err = %#v", err)
	}
	if p.lastErr == nil {
		t.Error("provider saw no error")
	}
	if want := "oauth1: temporary credential request returned HTTP 401: signature_invalid"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestAuthorizationURL(t *testing.T) {
	cfg := Config{ConsumerKey: "ck", AuthorizeURI: "https://trello.example/1/OAuthAuthorizeToken?a=1&a=2",
		Extra: map[string]string{"scope": "read,write", "oauth_token": "not-this"}}
	got, err := cfg.AuthorizationURL(&Token{Token: "t k"})
	if err != nil {
		t.Fatal(err)
	}
	want := "https://trello.example/1/OAuthAuthorizeToken?a=1&a=2&oauth_token=t+k&scope=read%2Cwrite"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := cfg.AuthorizationURL(nil); err == nil {
		t.Error("nil temporary credentials: no error")
	}
	if _, err := (Config{ConsumerKey: "ck"}).AuthorizationURL(&Token{Token: "t"}); err == nil {
		t.Error("no authorizeUri: no error")
	}
}

func TestParseCallback(t *testing.T) {
	temp := &Token{Token: "hh5s93j4hdidpola", Secret: "hdhd0244k9j7ao03"}
	v, err := ParseCallback(url.Values{"oauth_token": {temp.Token}, "oauth_verifier": {"hfdp7dh39dks9884"}}, temp)
	if err != nil || v != "hfdp7dh39dks9884" {
		t.Fatalf("ParseCallback = %q, %v", v, err)
	}
	denials := map[string]url.Values{
		"denied":           {"denied": {temp.Token}},
		"user_refused":     {"oauth_problem": {"user_refused"}},
		"access_denied":    {"error": {"access_denied"}},
		"missing verifier": {"oauth_token": {temp.Token}},
	}
	for name, q := range denials {
		_, err := ParseCallback(q, temp)
		var de *DeniedError
		if !errors.Is(err, ErrDenied) || !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want a DeniedError", name, err)
		}
	}
	for name, q := range map[string]url.Values{
		"other token": {"oauth_token": {"hh5s93j4hdidpolb"}, "oauth_verifier": {"v"}},
		"no token":    {"oauth_verifier": {"v"}},
	} {
		if _, err := ParseCallback(q, temp); !errors.Is(err, ErrTokenMismatch) {
			t.Errorf("%s: err = %v, want ErrTokenMismatch", name, err)
		}
	}
	if _, err := ParseCallback(url.Values{}, nil); err == nil {
		t.Error("nil temp: no error")
	}
}

func TestProviderErrors(t *testing.T) {
	formResp := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	cases := map[string]struct {
		h         http.HandlerFunc
		status    int
		problem   string
		transient bool
		cause     error
	}{
		"500":           {formResp(500, "oops"), 500, "", true, nil},
		"429":           {formResp(429, ""), 429, "", true, nil},
		"problem 400":   {formResp(400, "oauth_problem=parameter_absent&oauth_problem_advice=oauth_callback"), 400, "parameter_absent", false, nil},
		"problem 200":   {formResp(200, "oauth_problem=consumer_key_refused"), 200, "consumer_key_refused", false, nil},
		"no secret":     {formResp(200, "oauth_token=t"), 200, "", true, errNoSecret},
		"no token":      {formResp(200, "oauth_token_secret=s"), 200, "", true, errNoToken},
		"not confirmed": {formResp(200, "oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=false"), 200, "", false, errCallbackRefused},
		"empty":         {formResp(200, ""), 200, "", true, nil},
		"bad escape":    {formResp(200, "oauth_token=%zz"), 200, "", true, errMalformed},
		"too large":     {formResp(200, "oauth_token=t&oauth_token_secret=s&x="+strings.Repeat("a", MaxResponseSize)), 200, "", true, errTooLarge},
		"redirect":      {func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, 302, "", false, errRedirect},
		"www-authenticate": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `OAuth realm="https://api.example", oauth_problem="timestamp_refused"`)
			w.WriteHeader(401)
		}, 401, "timestamp_refused", false, nil},
		"html": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>login</html>")
		}, 200, "", true, errUnexpectedFormat},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			cfg := Config{ConsumerKey: "ck", ConsumerSecret: "cs", RequestTokenURI: srv.URL + "/initiate"}
			_, err := cfg.RequestToken(context.Background(), srv.Client(), "")
			var pe *ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a ProviderError", err)
			}
			if pe.Status != tc.status || pe.Problem != tc.problem || pe.Transient != tc.transient {
				t.Errorf("got status %d problem %q transient %v, want %d %q %v (%v)", pe.Status, pe.Problem, pe.Transient, tc.status, tc.problem, tc.transient, err)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("err = %v, want cause %v", err, tc.cause)
			}
		})
	}
}

func TestJSONResponseAndTransportError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"oauth_token":"t","oauth_token_secret":"s","user_id":7}`)
	}))
	cfg := Config{ConsumerKey: "ck", ConsumerSecret: "cs", TokenURI: srv.URL + "/token"}
	tok, err := cfg.AccessToken(context.Background(), nil, &Token{Token: "tmp", Secret: "tmps"}, "v")
	if err != nil || tok.Token != "t" || tok.Secret != "s" || tok.Raw["user_id"] != "7" {
		t.Fatalf("AccessToken = %+v, %v", tok, err)
	}
	srv.Close()
	_, err = cfg.AccessToken(context.Background(), nil, &Token{Token: "tmp", Secret: "tmps"}, "v")
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Status != 0 || !pe.Transient {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error repeats the URL: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cfg.AccessToken(ctx, nil, &Token{Token: "tmp"}, "v"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	for name, f := range map[string]func() error{
		"no tokenUri": func() error {
			_, err := Config{ConsumerKey: "ck"}.AccessToken(context.Background(), nil, &Token{Token: "t"}, "v")
			return err
		},
		"no temp": func() error { _, err := cfg.AccessToken(context.Background(), nil, nil, "v"); return err },
		"no requestTokenUri": func() error {
			_, err := Config{ConsumerKey: "ck"}.RequestToken(context.Background(), nil, "")
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
