package oauth1

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/url"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	cases := map[string]string{
		"":                       "",
		"abcABC123":              "abcABC123",
		"-._~":                   "-._~",
		"%":                      "%25",
		"+":                      "%2B",
		" ":                      "%20",
		"&=*":                    "%26%3D%2A",
		"\n":                     "%0A",
		"\x80":                   "%80",
		"☃":                      "%E2%98%83",
		"Ladies + Gentlemen":     "Ladies%20%2B%20Gentlemen",
		"http://a.example/b?c=d": "http%3A%2F%2Fa.example%2Fb%3Fc%3Dd",
	}
	for in, want := range cases {
		if got := Encode(in); got != want {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
	}
}

// Section 3.4.1.2 and its examples.
func TestBaseStringURI(t *testing.T) {
	cases := map[string]string{
		"http://EXAMPLE.COM:80/r%20v/X?id=123": "http://example.com/r%20v/X",
		"https://www.example.net:8080/?q=1":    "https://www.example.net:8080/",
		"HTTPS://Example.com:443":              "https://example.com/",
		"http://example.com:443/a":             "http://example.com:443/a",
		"https://example.com:80/a":             "https://example.com:80/a",
		"http://[::1]:80/x#frag":               "http://[::1]/x",
		"http://[::1]:8080/x":                  "http://[::1]:8080/x",
		"http://example.com/a/../b/":           "http://example.com/a/../b/",
	}
	for in, want := range cases {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseURI(u); got != want {
			t.Errorf("baseURI(%q) = %q, want %q", in, got, want)
		}
	}
	u := &url.URL{Scheme: "http", Host: "example.com", Opaque: "//example.com/x%2Fy"}
	if got := baseURI(u); got != "http://example.com/x%2Fy" {
		t.Errorf("opaque: %q", got)
	}
}

func TestBaseStringOrder(t *testing.T) {
	u, _ := url.Parse("http://example.com/")
	got := BaseString("post", u, []Param{{"b", "2"}, {"a", "z"}, {"a", "1"}, {"a=", "0"}, {"A", "x"}})
	// Encoded names sort byte-wise: "A" < "a" < "a%3D" < "b".
	want := "POST&http%3A%2F%2Fexample.com%2F&" + Encode("A=x&a=1&a=z&a%3D=0&b=2")
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestHMACSHA256(t *testing.T) {
	cfg := fixed(rfcConfig(HMACSHA256), 137131202, "chapoH")
	tok := &Token{Token: rfcToken, Secret: rfcTokenSecret}
	req := newRequest(t, "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", "", "")
	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	base := "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
	m := hmac.New(sha256.New, []byte(rfcConsumerSecret+"&"+rfcTokenSecret))
	m.Write([]byte(base))
	if got, want := signatureOf(t, req), base64.StdEncoding.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
}

func TestRSASHA1(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pems := map[string]string{
		"PKCS1": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"PKCS8": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}
	for name, p := range pems {
		cfg, err := ConfigFromMap(map[string]any{"consumerKey": "ck", "signatureMethod": "rsa-sha1", "privateKey": p})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cfg = fixed(cfg, 1700000000, "n1")
		req := newRequest(t, "POST", "https://api.example.com/v1/items?x=1", "application/x-www-form-urlencoded", "a=b")
		if err := cfg.Sign(req, &Token{Token: "t", Secret: "ignored"}, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		base := "POST&" + Encode("https://api.example.com/v1/items") + "&" +
			Encode("a=b&oauth_consumer_key=ck&oauth_nonce=n1&oauth_signature_method=RSA-SHA1&oauth_timestamp=1700000000&oauth_token=t&x=1")
		sig, err := base64.StdEncoding.DecodeString(signatureOf(t, req))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum([]byte(base))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, sum[:], sig); err != nil {
			t.Errorf("%s: signature does not verify: %v", name, err)
		}
	}
	// An EC key is not an RSA key.
	if _, err := parsePrivateKey("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"); err == nil {
		t.Error("a broken key parsed")
	}
	if _, err := (Config{ConsumerKey: "ck", SignatureMethod: RSASHA1}).Signature("b", ""); err == nil {
		t.Error("RSA-SHA1 without a key signed")
	}
}

func TestQueryPlacement(t *testing.T) {
	cfg := fixed(rfcConfig(HMACSHA1), 137131202, "chapoH")
	cfg.Placement = PlacementQuery
	cfg.Realm = "Photos" // only ever sent in the header
	tok := &Token{Token: rfcToken, Secret: rfcTokenSecret}
	req := newRequest(t, "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", "", "")
	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	want := "file=vacation.jpg&size=original&oauth_consumer_key=dpf43f3p2l4k3l03&oauth_token=nnch734d00sl2jdk&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131202&oauth_nonce=chapoH&oauth_signature=MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"
	if req.URL.RawQuery != want {
		t.Errorf("query\n got %s\nwant %s", req.URL.RawQuery, want)
	}
	if h := req.Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization set: %q", h)
	}
	// Signing again (a retry) replaces the parameters instead of adding more.
	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	if req.URL.RawQuery != want {
		t.Errorf("query after re-signing\n got %s\nwant %s", req.URL.RawQuery, want)
	}
}

func TestBodyPlacement(t *testing.T) {
	cfg := fixed(Config{ConsumerKey: "ck", ConsumerSecret: "cs", Placement: PlacementBody}, 1700000000, "n1")
	tok := &Token{Token: "tk", Secret: "ts"}
	req := newRequest(t, "POST", "https://api.example.com/x?q=1", "application/x-www-form-urlencoded", "a=1&a=2")
	if err := cfg.Sign(req, tok, nil); err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	prefix := "a=1&a=2&oauth_consumer_key=ck&oauth_token=tk&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1700000000&oauth_nonce=n1&oauth_signature="
	if !strings.HasPrefix(string(body), prefix) {
		t.Fatalf("body %q", body)
	}
	base := "POST&" + Encode("https://api.example.com/x") + "&" +
		Encode("a=1&a=2&oauth_consumer_key=ck&oauth_nonce=n1&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1700000000&oauth_token=tk&q=1")
	m := hmac.New(sha1.New, []byte("cs&ts"))
	m.Write([]byte(base))
	if got, want := strings.TrimPrefix(string(body), prefix), Encode(base64.StdEncoding.EncodeToString(m.Sum(nil))); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if req.ContentLength != int64(len(body)) {
		t.Errorf("ContentLength %d, body %d", req.ContentLength, len(body))
	}
	if rc, err := req.GetBody(); err != nil {
		t.Fatal(err)
	} else if again, _ := io.ReadAll(rc); string(again) != string(body) {
		t.Errorf("GetBody %q", again)
	}

	// A POST without body becomes a form request.
	req = newRequest(t, "POST", "https://api.example.com/initiate", "", "")
	if err := cfg.Sign(req, nil, map[string]string{"oauth_callback": "oob"}); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", req.Header.Get("Content-Type"))
	}
	// JSON bodies and GET requests cannot carry the parameters.
	if err := cfg.Sign(newRequest(t, "POST", "https://api.example.com/x", "application/json", `{"a":1}`), tok, nil); err == nil {
		t.Error("body placement on a JSON body: no error")
	}
	if err := cfg.Sign(newRequest(t, "GET", "https://api.example.com/x", "", ""), tok, nil); err == nil {
		t.Error("body placement on GET: no error")
	}
}

// Section 3.4.1.3: only form bodies are signed; others are left alone.
func TestOtherBodiesNotSigned(t *testing.T) {
	cfg := fixed(Config{ConsumerKey: "ck", ConsumerSecret: "cs"}, 1700000000, "n1")
	req := newRequest(t, "POST", "https://api.example.com/x", "application/json", `{"a=1&b":"2"}`)
	params, err := CollectParams(req, nil)
	if err != nil || len(params) != 0 {
		t.Errorf("CollectParams on JSON = %q, %v", params, err)
	}
	if err := cfg.Sign(req, nil, nil); err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(req.Body); string(body) != `{"a=1&b":"2"}` {
		t.Errorf("JSON body changed: %q", body)
	}
}

func TestHostHeaderSigned(t *testing.T) {
	cfg := fixed(Config{ConsumerKey: "ck", ConsumerSecret: "cs"}, 1700000000, "n1")
	a := newRequest(t, "GET", "http://10.0.0.1:8080/x", "", "")
	a.Host = "api.example.com"
	b := newRequest(t, "GET", "http://api.example.com/x", "", "")
	if err := cfg.Sign(a, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Sign(b, nil, nil); err != nil {
		t.Fatal(err)
	}
	if signatureOf(t, a) != signatureOf(t, b) {
		t.Error("the Host header was not used for the base string URI")
	}
}

func TestSignErrors(t *testing.T) {
	good := Config{ConsumerKey: "ck"}
	cases := map[string]struct {
		cfg   Config
		url   string
		extra map[string]string
	}{
		"no consumer key":      {Config{}, "https://a.example/", nil},
		"unknown method":       {Config{ConsumerKey: "ck", SignatureMethod: "MD5"}, "https://a.example/", nil},
		"unknown placement":    {Config{ConsumerKey: "ck", Placement: "cookie"}, "https://a.example/", nil},
		"realm newline":        {Config{ConsumerKey: "ck", Realm: "a\nb"}, "https://a.example/", nil},
		"non-oauth extra":      {good, "https://a.example/", map[string]string{"scope": "x"}},
		"extra signature":      {good, "https://a.example/", map[string]string{"oauth_signature": "x"}},
		"bad query escape":     {good, "https://a.example/?a=%zz", nil},
		"bad query key escape": {good, "https://a.example/?%zz=1", nil},
	}
	for name, tc := range cases {
		req := newRequest(t, "GET", tc.url, "", "")
		if err := tc.cfg.Sign(req, nil, tc.extra); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := good.Sign(nil, nil, nil); err == nil {
		t.Error("nil request: no error")
	}
}

func BenchmarkSignHMACSHA1(b *testing.B) {
	cfg := Config{ConsumerKey: rfcConsumerKey, ConsumerSecret: rfcConsumerSecret}
	tok := &Token{Token: rfcToken, Secret: rfcTokenSecret}
	b.ReportAllocs()
	for b.Loop() {
		req := newRequest(b, "POST", "https://api.example.com/1.1/statuses/update.json?include_entities=true",
			"application/x-www-form-urlencoded", "status=Hello%20Ladies%20%2B%20Gentlemen")
		if err := cfg.Sign(req, tok, nil); err != nil {
			b.Fatal(err)
		}
	}
}
