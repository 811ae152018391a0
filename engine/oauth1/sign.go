package oauth1

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Param is one request parameter. Parameters are kept as an ordered list
// because a name may occur more than once (RFC 5849 section 3.4.1.3).
type Param struct{ Key, Value string }

const formType = "application/x-www-form-urlencoded"

// Sign adds OAuth 1.0a authorization to req (RFC 5849 section 3) for tok,
// the token credentials, or the temporary credentials during the flow; a nil
// tok (or one with an empty Token) sends no oauth_token, as the temporary
// credential request does. extra adds protocol parameters such as
// oauth_callback and oauth_verifier; every key must start with "oauth_", and
// extra may also fix oauth_timestamp, oauth_nonce or oauth_version.
//
// A body with Content-Type application/x-www-form-urlencoded is read, signed
// and restored (GetBody too); other bodies are not signed. Placement decides
// where the oauth_* parameters go: the Authorization header (with Realm), the
// query, or the form body. Signing again replaces the parameters an earlier
// Sign wrote there.
func (c Config) Sign(req *http.Request, tok *Token, extra map[string]string) error {
	if req == nil || req.URL == nil {
		return errors.New("oauth1: nil request")
	}
	if c.ConsumerKey == "" {
		return errors.New("oauth1: consumerKey is required")
	}
	placement := c.placement()
	if err := checkRealm(c.Realm); err != nil {
		return err
	}
	if err := read.OneOf("placement", c.Placement, PlacementHeader, PlacementQuery, PlacementBody); err != nil {
		return err
	}
	oauth := c.protocolParams(tok)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "oauth_") || k == "oauth_signature" {
			return fmt.Errorf("oauth1: extra parameter %q is not a protocol parameter Sign may set", k)
		}
		oauth = setParam(oauth, k, extra[k])
	}

	// Parameters an earlier Sign put into the query or body would be signed
	// twice and sent twice.
	written := make([]string, 0, len(oauth)+1)
	for _, p := range oauth {
		written = append(written, p.Key)
	}
	written = append(written, "oauth_signature")
	switch placement {
	case PlacementQuery:
		req.URL.RawQuery = dropParams(req.URL.RawQuery, written)
	case PlacementBody:
		if err := prepareFormBody(req, written); err != nil {
			return err
		}
	}

	params, err := CollectParams(req, oauth)
	if err != nil {
		return err
	}
	u := req.URL
	if req.Host != "" && req.Host != u.Host {
		// The Host header is what the server sees (section 3.4.1.2).
		cp := *u
		cp.Host = req.Host
		u = &cp
	}
	var secret string
	if tok != nil {
		secret = tok.Secret
	}
	sig, err := c.Signature(BaseString(req.Method, u, params), secret)
	if err != nil {
		return err
	}
	oauth = append(oauth, Param{"oauth_signature", sig})

	switch placement {
	case PlacementQuery:
		req.URL.RawQuery = appendEncoded(req.URL.RawQuery, oauth)
	case PlacementBody:
		body, err := readBody(req)
		if err != nil {
			return err
		}
		setBody(req, []byte(appendEncoded(string(body), oauth)))
	default:
		req.Header.Set("Authorization", c.authorizationHeader(oauth))
	}
	return nil
}

// protocolParams are the oauth_* parameters every signed request carries, in
// the order of the RFC's examples.
func (c Config) protocolParams(tok *Token) []Param {
	ps := make([]Param, 0, 8)
	ps = append(ps, Param{"oauth_consumer_key", c.ConsumerKey})
	if tok != nil && tok.Token != "" {
		ps = append(ps, Param{"oauth_token", tok.Token})
	}
	ps = append(ps,
		Param{"oauth_signature_method", c.signatureMethod()},
		Param{"oauth_timestamp", strconv.FormatInt(c.now().Unix(), 10)},
		Param{"oauth_nonce", c.nonce()},
	)
	if c.Version != "" {
		ps = append(ps, Param{"oauth_version", c.Version})
	}
	return ps
}

// setParam replaces the value of key in ps, or appends it.
func setParam(ps []Param, key, value string) []Param {
	for i := range ps {
		if ps[i].Key == key {
			ps[i].Value = value
			return ps
		}
	}
	return append(ps, Param{key, value})
}

// authorizationHeader renders section 3.5.1: realm first as a quoted-string,
// then every parameter percent-encoded.
func (c Config) authorizationHeader(oauth []Param) string {
	var b strings.Builder
	b.WriteString("OAuth ")
	if c.Realm != "" {
		b.WriteString(`realm="`)
		for _, r := range c.Realm {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteString(`", `)
	}
	for i, p := range oauth {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Encode(p.Key))
		b.WriteString(`="`)
		b.WriteString(Encode(p.Value))
		b.WriteByte('"')
	}
	return b.String()
}

// checkRealm keeps the realm from breaking the header it is quoted in.
func checkRealm(realm string) error {
	for _, r := range realm {
		if r < ' ' || r == 0x7f {
			return errors.New("oauth1: realm must not contain control characters")
		}
	}
	return nil
}

// CollectParams gathers the parameters of req that enter the signature base
// string (RFC 5849 section 3.4.1.3.1): the query, a form-encoded body (read
// and restored), and oauth, the protocol parameters bound for the
// Authorization header, without realm. oauth_signature is left out wherever
// it appears. Names and values are decoded; duplicates and order are kept.
//
// The error names the part of the request that is not valid form encoding,
// never its content.
func CollectParams(req *http.Request, oauth []Param) ([]Param, error) {
	var params []Param
	if req.URL != nil {
		var err error
		if params, err = parseForm(params, req.URL.RawQuery); err != nil {
			return nil, errors.New("oauth1: the request query is not valid form encoding")
		}
	}
	if isFormBody(req) {
		body, err := readBody(req)
		if err != nil {
			return nil, err
		}
		if params, err = parseForm(params, string(body)); err != nil {
			return nil, errors.New("oauth1: the form request body is not valid form encoding")
		}
	}
	for _, p := range oauth {
		if p.Key != "realm" {
			params = append(params, p)
		}
	}
	return slices.DeleteFunc(params, func(p Param) bool { return p.Key == "oauth_signature" }), nil
}

// parseForm appends the pairs of an application/x-www-form-urlencoded string
// to ps; a pair without "=" has an empty value, empty pairs are skipped.
func parseForm(ps []Param, s string) ([]Param, error) {
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		ps = append(ps, Param{key, val})
	}
	return ps, nil
}

// dropParams removes the pairs whose decoded name is in names from a
// form-encoded string, leaving the others byte for byte.
func dropParams(s string, names []string) string {
	if s == "" {
		return s
	}
	kept := make([]string, 0, strings.Count(s, "&")+1)
	for pair := range strings.SplitSeq(s, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err == nil && slices.Contains(names, key) {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(kept, "&")
}

// appendEncoded adds ps to a form-encoded string.
func appendEncoded(s string, ps []Param) string {
	var b strings.Builder
	b.WriteString(s)
	for _, p := range ps {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(Encode(p.Key))
		b.WriteByte('=')
		b.WriteString(Encode(p.Value))
	}
	return b.String()
}

func isFormBody(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return false
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	return err == nil && mt == formType
}

// prepareFormBody checks that req can carry the protocol parameters in its
// body (section 3.5.2) and removes those an earlier Sign left there. A
// request without body and Content-Type becomes a form request.
func prepareFormBody(req *http.Request, written []string) error {
	if isFormBody(req) {
		body, err := readBody(req)
		if err != nil {
			return err
		}
		setBody(req, []byte(dropParams(string(body), written)))
		return nil
	}
	if req.Body != nil && req.Body != http.NoBody {
		return errors.New("oauth1: body placement needs an application/x-www-form-urlencoded request body")
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != formType {
			return errors.New("oauth1: body placement needs an application/x-www-form-urlencoded request body")
		}
	}
	if req.Method == "" || req.Method == http.MethodGet || req.Method == http.MethodHead {
		return errors.New("oauth1: body placement cannot be used for GET or HEAD requests")
	}
	req.Header.Set("Content-Type", formType)
	setBody(req, nil)
	return nil
}

// readBody reads req.Body and puts an identical one back.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, errors.New("oauth1: reading the request body failed")
	}
	setBody(req, data)
	return data, nil
}

func setBody(req *http.Request, data []byte) {
	req.ContentLength = int64(len(data))
	if len(data) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// BaseString builds the signature base string of RFC 5849 section 3.4.1:
// the upper-cased method, the base string URI (section 3.4.1.2: scheme and
// host lower-cased, default port dropped, path kept, no query or fragment)
// and the normalized parameters (section 3.4.1.3.2: encoded, sorted by name
// then value, duplicates kept), each percent-encoded and joined with "&".
// params are the decoded parameters, as CollectParams returns them.
func BaseString(method string, u *url.URL, params []Param) string {
	var b strings.Builder
	b.WriteString(Encode(strings.ToUpper(method)))
	b.WriteByte('&')
	b.WriteString(Encode(baseURI(u)))
	b.WriteByte('&')
	b.WriteString(Encode(normalizeParams(params)))
	return b.String()
}

// baseURI is the base string URI of section 3.4.1.2.
func baseURI(u *url.URL) string {
	if u == nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	path := u.EscapedPath()
	if u.Opaque != "" {
		path = u.Opaque
		if rest, ok := strings.CutPrefix(path, "//"); ok {
			// "//host/path", as http.Request documents for Opaque.
			path = ""
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				path = rest[i:]
			}
		}
	}
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// normalizeParams is section 3.4.1.3.2.
func normalizeParams(params []Param) string {
	enc := make([]Param, len(params))
	for i, p := range params {
		enc[i] = Param{Encode(p.Key), Encode(p.Value)}
	}
	slices.SortStableFunc(enc, func(a, b Param) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Key)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String()
}

// Encode percent-encodes s as RFC 5849 section 3.6 says: the bytes of its
// UTF-8 form are kept when unreserved (ALPHA, DIGIT, "-", ".", "_", "~")
// and written as %XX with upper-case hex digits otherwise. Unlike
// url.QueryEscape it encodes a space as %20.
func Encode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if unreserved(ch) {
			out = append(out, ch)
		} else {
			out = append(out, '%', hexDigits[ch>>4], hexDigits[ch&0xF])
		}
	}
	return string(out)
}

func unreserved(ch byte) bool {
	return 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' ||
		ch == '-' || ch == '.' || ch == '_' || ch == '~'
}

// Signature signs a signature base string with the method of c (RFC 5849
// section 3.4.2 to 3.4.4). The HMAC key and the PLAINTEXT signature are the
// encoded consumer secret and tokenSecret joined with "&"; RSA-SHA1 signs
// with PrivateKey and ignores both secrets. The result is not yet
// percent-encoded for transmission.
func (c Config) Signature(base string, tokenSecret string) (string, error) {
	key := Encode(c.ConsumerSecret) + "&" + Encode(tokenSecret)
	switch c.signatureMethod() {
	case HMACSHA1:
		return hmacSign(sha1.New, key, base), nil
	case HMACSHA256:
		return hmacSign(sha256.New, key, base), nil
	case PLAINTEXT:
		return key, nil
	case RSASHA1:
		pk, err := parsePrivateKey(c.PrivateKey)
		if err != nil {
			return "", err
		}
		sum := sha1.Sum([]byte(base))
		sig, err := rsa.SignPKCS1v15(nil, pk, crypto.SHA1, sum[:])
		if err != nil {
			return "", errors.New("oauth1: RSA-SHA1 signing failed")
		}
		return base64.StdEncoding.EncodeToString(sig), nil
	default:
		return "", read.OneOf("signatureMethod", c.SignatureMethod, HMACSHA1, HMACSHA256, RSASHA1, PLAINTEXT)
	}
}

func hmacSign(h func() hash.Hash, key, base string) string {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// parsePrivateKey reads a PEM PKCS #1 or PKCS #8 RSA private key. Its errors
// never quote the key.
func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("oauth1: privateKey is required for RSA-SHA1")
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("oauth1: privateKey is not a PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("oauth1: privateKey is not a PKCS #1 or PKCS #8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("oauth1: privateKey is not an RSA key")
	}
	return rk, nil
}
