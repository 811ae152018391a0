package oauth1

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The RFC 5849 section 1.2 walk-through credentials.
const (
	rfcConsumerKey    = "dpf43f3p2l4k3l03"
	rfcConsumerSecret = "kd94hf93k423kf44"
	rfcTempToken      = "hh5s93j4hdidpola"
	rfcTempSecret     = "hdhd0244k9j7ao03"
	rfcVerifier       = "hfdp7dh39dks9884"
	rfcToken          = "nnch734d00sl2jdk"
	rfcTokenSecret    = "pfkkdhi9sl3r4s00"
)

// fixed returns cfg with a fixed clock and nonce.
func fixed(cfg Config, ts int64, nonce string) Config {
	cfg.Now = func() time.Time { return time.Unix(ts, 0) }
	cfg.Nonce = func() string { return nonce }
	return cfg
}

func rfcConfig(method string) Config {
	return Config{ConsumerKey: rfcConsumerKey, ConsumerSecret: rfcConsumerSecret, SignatureMethod: method}
}

func newRequest(t testing.TB, method, rawURL, contentType, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// headerParams splits an Authorization header into its parameters, values
// still encoded, so tests can compare them without caring about separators.
func headerParams(t testing.TB, h string) []Param {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		t.Fatalf("Authorization %q does not start with OAuth", h)
	}
	var ps []Param
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			t.Fatalf("bad header parameter %q in %q", part, h)
		}
		ps = append(ps, Param{k, v[1 : len(v)-1]})
	}
	return ps
}

func wantHeader(t *testing.T, req *http.Request, want []Param) {
	t.Helper()
	got := headerParams(t, req.Header.Get("Authorization"))
	if !slices.Equal(got, want) {
		t.Errorf("Authorization parameters\n got %q\nwant %q", got, want)
	}
}

// RFC 5849 section 1.2 (and OAuth Core 1.0 Appendix A): PLAINTEXT
// temporary credential request.
func TestVectorPlaintextTemporaryCredentials(t *testing.T) {
	cfg := fixed(rfcConfig(PLAINTEXT), 137131200, "wIjqoS")
	cfg.Realm = "Photos"
	req := newRequest(t, "POST", "https://photos.example.net/initiate", "", "")
	if err := cfg.Sign(req, nil, map[string]string{"oauth_callback": "http://printer.example.com/ready"}); err != nil {
		t.Fatal(err)
	}
	wantHeader(t, req, []Param{
		{"realm", "Photos"},
		{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
		{"oauth_signature_method", "PLAINTEXT"},
		{"oauth_timestamp", "137131200"},
		{"oauth_nonce", "wIjqoS"},
		{"oauth_callback", "http%3A%2F%2Fprinter.example.com%2Fready"},
		{"oauth_signature", "kd94hf93k423kf44%26"},
	})
	sig, err := cfg.Signature("anything", "")
	if err != nil || sig != "kd94hf93k423kf44&" {
		t.Errorf("Signature = %q, %v; want kd94hf93k423kf44&", sig, err)
	}
}

// RFC 5849 section 1.2: PLAINTEXT token request with the verifier.
func TestVectorPlaintextTokenRequest(t *testing.T) {
	cfg := fixed(rfcConfig(PLAINTEXT), 137131201, "walatlh")
	cfg.Realm = "Photos"
	req := newRequest(t, "POST", "https://photos.example.net/token", "", "")
	temp := &Token{Token: rfcTempToken, Secret: rfcTempSecret}
	if err := cfg.Sign(req, temp, map[string]string{"oauth_verifier": rfcVerifier}); err != nil {
		t.Fatal(err)
	}
	wantHeader(t, req, []Param{
		{"realm", "Photos"},
		{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
		{"oauth_token", "hh5s93j4hdidpola"},
		{"oauth_signature_method", "PLAINTEXT"},
		{"oauth_timestamp", "137131201"},
		{"oauth_nonce", "walatlh"},
		{"oauth_verifier", "hfdp7dh39dks9884"},
		{"oauth_signature", "kd94hf93k423kf44%26hdhd0244k9j7ao03"},
	})
	sig, err := cfg.Signature("anything", rfcTempSecret)
	if err != nil || sig != "kd94hf93k423kf44&hdhd0244k9j7ao03" {
		t.Errorf("Signature = %q, %v", sig, err)
	}
}

// RFC 5849 section 1.2: HMAC-SHA1 resource request; the realm is in the
// header but not in the base string.
func TestVectorHMACSHA1ResourceRequest(t *testing.T) {
	const (
		wantBase = "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
		wantSig  = "MdpQcU8iPSUjWoN/UDMsK2sui9I="
	)
	cfg := fixed(rfcConfig(HMACSHA1), 137131202, "chapoH")
	cfg.Realm = "Photos"
	tok := &Token{Token: rfcToken, Secret: rfcTokenSecret}
	req := newRequest(t, "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", "", "")

	oauth := append([]Param{{"realm", "Photos"}}, cfg.protocolParams(tok)...)
	params, err := CollectParams(req, oauth)
	if err != nil {
		t.Fatal(err)
	}
	base := BaseString(req.Method, req.URL, params)
	if base != wantBase {
		t.Errorf("base string\n got %s\nwant %s", base, wantBase)
	}
	if sig, err := cfg.Signature(base, rfcTokenSecret); err != nil || sig != wantSig {
		t.Errorf("Signature = %q, %v; want %s", sig, err, wantSig)
	}

	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	wantHeader(t, req, []Param{
		{"realm", "Photos"},
		{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
		{"oauth_token", "nnch734d00sl2jdk"},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", "137131202"},
		{"oauth_nonce", "chapoH"},
		{"oauth_signature", "MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"},
	})
	if req.URL.RawQuery != "file=vacation.jpg&size=original" {
		t.Errorf("query changed to %q", req.URL.RawQuery)
	}
}

// OAuth Core 1.0 Appendix A.5: the same request with oauth_version=1.0.
func TestVectorCore10AppendixA(t *testing.T) {
	const (
		wantBase = "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"
		wantSig  = "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
	)
	cfg := fixed(rfcConfig(""), 1191242096, "kllo9940pd9333jh")
	cfg.Version = "1.0"
	tok := &Token{Token: rfcToken, Secret: rfcTokenSecret}
	req := newRequest(t, "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", "", "")
	params, err := CollectParams(req, cfg.protocolParams(tok))
	if err != nil {
		t.Fatal(err)
	}
	if base := BaseString("GET", req.URL, params); base != wantBase {
		t.Errorf("base string\n got %s\nwant %s", base, wantBase)
	}
	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	if got := signatureOf(t, req); got != wantSig {
		t.Errorf("signature %q, want %q", got, wantSig)
	}

	// The version may also come in as an extra parameter.
	cfg.Version = ""
	req = newRequest(t, "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", "", "")
	if err := cfg.Sign(req, tok, map[string]string{"oauth_version": "1.0"}); err != nil {
		t.Fatal(err)
	}
	if got := signatureOf(t, req); got != wantSig {
		t.Errorf("signature with extra oauth_version %q, want %q", got, wantSig)
	}
}

// signatureOf returns the decoded oauth_signature of a header-signed request.
func signatureOf(t testing.TB, req *http.Request) string {
	t.Helper()
	for _, p := range headerParams(t, req.Header.Get("Authorization")) {
		if p.Key == "oauth_signature" {
			s, err := url.PathUnescape(p.Value)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatal("no oauth_signature")
	return ""
}

// RFC 5849 section 3.4.1: duplicate a3, a form body, an encoded query.
func TestVectorSection341(t *testing.T) {
	const wantBase = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
	// The RFC gives no secrets for this example; any will do.
	const consumerSecret, tokenSecret = "j49sk3j29djd", "dh893hdasih9"
	cfg := fixed(Config{ConsumerKey: "9djdj82h48djs9d2", ConsumerSecret: consumerSecret, Realm: "Example"}, 137131201, "7d8f3e4a")
	tok := &Token{Token: "kkk9d7dh3k39sjv7", Secret: tokenSecret}
	newReq := func() *http.Request {
		return newRequest(t, "POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
			"application/x-www-form-urlencoded", "c2&a3=2+q")
	}

	// Section 3.4.1.3.1 lists the collected parameters, a3 twice.
	req := newReq()
	oauth := append([]Param{{"realm", "Example"}}, cfg.protocolParams(tok)...)
	oauth = append(oauth, Param{"oauth_signature", "bYT5CMsGcbgUdFHObYMEfcx6bsw="})
	params, err := CollectParams(req, oauth)
	if err != nil {
		t.Fatal(err)
	}
	wantParams := []Param{
		{"b5", "=%3D"}, {"a3", "a"}, {"c@", ""}, {"a2", "r b"},
		{"c2", ""}, {"a3", "2 q"},
		{"oauth_consumer_key", "9djdj82h48djs9d2"}, {"oauth_token", "kkk9d7dh3k39sjv7"},
		{"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", "137131201"}, {"oauth_nonce", "7d8f3e4a"},
	}
	if !slices.Equal(params, wantParams) {
		t.Errorf("CollectParams\n got %q\nwant %q", params, wantParams)
	}
	if base := BaseString("POST", req.URL, params); base != wantBase {
		t.Errorf("base string\n got %s\nwant %s", base, wantBase)
	}
	if body, _ := io.ReadAll(req.Body); string(body) != "c2&a3=2+q" {
		t.Errorf("body not restored: %q", body)
	}

	// Sign signs exactly that base string and leaves the body intact.
	req = newReq()
	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha1.New, []byte(consumerSecret+"&"+tokenSecret))
	m.Write([]byte(wantBase))
	if got, want := signatureOf(t, req), base64.StdEncoding.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("Sign signature %q, want %q", got, want)
	}
	if body, _ := io.ReadAll(req.Body); string(body) != "c2&a3=2+q" {
		t.Errorf("body after Sign: %q", body)
	}
	if req.GetBody == nil || req.ContentLength != int64(len("c2&a3=2+q")) {
		t.Errorf("GetBody %v, ContentLength %d", req.GetBody != nil, req.ContentLength)
	}
}

// Twitter's "Creating a signature" walk-through, and the same request on the
// older /1/ path.
func TestVectorTwitter(t *testing.T) {
	const wantBase = "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
	cfg := fixed(Config{
		ConsumerKey:    "xvz1evFS4wEEPTGEFPHBog",
		ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		Version:        "1.0",
	}, 1318622958, "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg")
	tok := &Token{
		Token:  "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
		Secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
	}
	bodies := map[string]string{
		"percent": "status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21",
		"plus":    url.Values{"status": {"Hello Ladies + Gentlemen, a signed OAuth request!"}}.Encode(),
	}
	for name, body := range bodies {
		for _, tc := range []struct{ path, sig string }{
			{"/1.1/statuses/update.json", "hCtSmYh+iHYCEqBWrE7C7hYmtUk="},
			{"/1/statuses/update.json", "tnnArxj06cWHq44gCs1OSKk/jLY="},
		} {
			req := newRequest(t, "POST", "https://api.twitter.com"+tc.path+"?include_entities=true",
				"application/x-www-form-urlencoded; charset=UTF-8", body)
			if tc.path == "/1.1/statuses/update.json" {
				params, err := CollectParams(req, cfg.protocolParams(tok))
				if err != nil {
					t.Fatal(err)
				}
				if base := BaseString("POST", req.URL, params); base != wantBase {
					t.Errorf("%s: base string\n got %s\nwant %s", name, base, wantBase)
				}
			}
			if err := cfg.Sign(req, tok, nil); err != nil {
				t.Fatal(err)
			}
			if got := signatureOf(t, req); got != tc.sig {
				t.Errorf("%s %s: signature %q, want %q", name, tc.path, got, tc.sig)
			}
		}
	}
}
