package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/connspec/connspec/spec"
)

// hmac-signature (a connspec extension): every request is signed with an
// HMAC over a string built from its method, path, query, body, a
// timestamp and a nonce (getSignatureConfig). Signing happens last, on the
// request as it goes on the wire, and again on each retry (a fresh
// timestamp and nonce). There is nothing to renew.
func init() { RegisterKind("hmac-signature", KindFunc(openHMAC)) }

// MaxSignedBody is the largest request body an hmac-signature client
// signs: the body is read into memory to be signed (through GetBody when
// the request has it, so the body sent is not consumed), and a larger one
// is refused rather than read without bound.
const MaxSignedBody = 8 << 20

// hmacPlacement is where a signed value goes.
type hmacPlacement struct {
	in, name, prefix string
}

// hmacSession signs each request of one connection.
type hmacSession struct {
	BaseSession
	// key is the decoded key; a pointer, so that fmt prints an address,
	// not its bytes (fmt calls no methods on unexported fields).
	key      *[]byte
	newHash  func() hash.Hash
	base64   bool
	template []spec.SignNode
	readBody bool

	signature, timestamp, nonce, keyID     *hmacPlacement
	timestampFormat, nonceKind, keyIDValue string

	mu        sync.Mutex
	lastNonce int64
	// secrets are the key as given (SecretHolder); a pointer, so that fmt
	// never prints them with the struct.
	secrets *[]string
}

// Secrets is the signing key as the config gave it.
func (s *hmacSession) Secrets() []string {
	if s.secrets == nil {
		return nil
	}
	return *s.secrets
}

// openHMAC evaluates getSignatureConfig.
func openHMAC(ctx context.Context, cl *Client) (Session, error) {
	raw, m, r, err := cl.runConfigMethod(ctx, spec.MethodGetSignatureConfig)
	if err != nil {
		return nil, err
	}
	s, err := parseHMACConfig(raw)
	if err != nil {
		return nil, redactedMethodError(m, err, r.With(s.Secrets()...))
	}
	return s, nil
}

// parseHMACConfig reads getSignatureConfig's result. The session it
// returns carries the secret to redact even with an error.
func parseHMACConfig(raw map[string]any) (*hmacSession, error) {
	s := &hmacSession{}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(spec.HMACSignatureConfigKeys, k) {
			return s, fmt.Errorf("unknown key %q in the result (allowed: %s)", k, strings.Join(spec.HMACSignatureConfigKeys, ", "))
		}
	}
	key, ok := raw["key"].(string)
	if !ok || key == "" {
		return s, fmt.Errorf("key (the HMAC secret) is required and must be a string, not %s", describeValue(raw["key"]))
	}
	s.secrets = &[]string{key}
	keyEnc, err := hmacEnum(raw, "keyEncoding", "raw", spec.HMACKeyEncodings)
	if err != nil {
		return s, err
	}
	decoded, err := decodeHMACKey(key, keyEnc)
	if err != nil {
		return s, err
	}
	s.key = &decoded
	alg, err := hmacEnum(raw, "algorithm", "", spec.HMACAlgorithms)
	if err != nil {
		return s, err
	}
	s.newHash = hmacHashes[alg]
	enc, err := hmacEnum(raw, "encoding", "hex", spec.HMACOutputEncodings)
	if err != nil {
		return s, err
	}
	s.base64 = enc == "base64"
	if s.template, err = parseStringToSign(raw["stringToSign"]); err != nil {
		return s, err
	}
	return s, s.parsePlacements(raw)
}

// hmacHashes are the hashes of spec.HMACAlgorithms.
var hmacHashes = map[string]func() hash.Hash{
	"HMAC-SHA1": sha1.New, "HMAC-SHA256": sha256.New, "HMAC-SHA512": sha512.New,
}

// hmacEnum reads the string key of raw, one of allowed; def when absent
// ("" makes it required).
func hmacEnum(raw map[string]any, key, def string, allowed []string) (string, error) {
	v, present := raw[key]
	if !present || v == nil {
		if def == "" {
			return "", fmt.Errorf("%s is required (one of %s)", key, strings.Join(allowed, ", "))
		}
		return def, nil
	}
	str, ok := v.(string)
	if !ok || !slices.Contains(allowed, str) {
		return "", fmt.Errorf("%s %s is not supported (supported: %s)", key, describeEnumValue(v), strings.Join(allowed, ", "))
	}
	return str, nil
}

func describeEnumValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return describeValue(v)
}

// decodeHMACKey decodes the key; an error never quotes it.
func decodeHMACKey(key, encoding string) ([]byte, error) {
	switch encoding {
	case "base64":
		k, err := base64.StdEncoding.DecodeString(key)
		if err != nil {
			// Some issuers hand out unpadded or URL-safe keys.
			k, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(key), "="))
		}
		if err != nil {
			return nil, errors.New("key is not valid base64 (keyEncoding: base64)")
		}
		return k, nil
	case "hex":
		k, err := hex.DecodeString(key)
		if err != nil {
			return nil, errors.New("key is not valid hex (keyEncoding: hex)")
		}
		return k, nil
	}
	return []byte(key), nil
}

// parseStringToSign parses stringToSign: a template, or a list of them
// joined with newlines.
func parseStringToSign(v any) ([]spec.SignNode, error) {
	var lines []string
	switch t := v.(type) {
	case string:
		lines = []string{t}
	case []any:
		for i, item := range t {
			line, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("stringToSign[%d] must be a string, not %s", i, describeValue(item))
			}
			lines = append(lines, line)
		}
	default:
		return nil, fmt.Errorf("stringToSign (the template of the string to sign) is required: a string or a list of strings, not %s", describeValue(v))
	}
	var out []spec.SignNode
	for i, line := range lines {
		nodes, err := spec.ParseSignTemplate(line)
		if err != nil {
			return nil, fmt.Errorf("stringToSign: %w", err)
		}
		if i > 0 {
			out = append(out, spec.SignNode{Text: "\n"})
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// parsePlacements reads signature, timestamp, nonce and keyId.
func (s *hmacSession) parsePlacements(raw map[string]any) error {
	var err error
	if s.signature, _, err = hmacBlock(raw, "signature"); err != nil {
		return err
	}
	if s.signature == nil {
		return errors.New("signature is required: where the signature goes ({header: NAME}, {query: NAME} or {body: NAME})")
	}
	var extra map[string]any
	if s.timestamp, extra, err = hmacBlock(raw, "timestamp"); err != nil {
		return err
	}
	if s.timestamp != nil {
		if s.timestampFormat, err = hmacEnum(extra, "timestamp.format", "unixSeconds", spec.HMACTimestampFormats); err != nil {
			return err
		}
	}
	if s.nonce, extra, err = hmacBlock(raw, "nonce"); err != nil {
		return err
	}
	if s.nonce != nil {
		if s.nonceKind, err = hmacEnum(extra, "nonce.kind", "random", spec.HMACNonceKinds); err != nil {
			return err
		}
	}
	if s.keyID, extra, err = hmacBlock(raw, "keyId"); err != nil {
		return err
	}
	if raw["keyId"] != nil {
		if s.keyIDValue, _ = extra["keyId.value"].(string); s.keyIDValue == "" {
			return errors.New("keyId.value (the key's id) is required and must be a string")
		}
	}
	for part, have := range map[string]bool{"timestamp": raw["timestamp"] != nil, "nonce": raw["nonce"] != nil, "keyId": raw["keyId"] != nil} {
		if !have && spec.SignTemplateUses(s.template, part) {
			return fmt.Errorf("stringToSign uses {%s} but the result has no %s block", part, part)
		}
	}
	s.readBody = spec.SignTemplateUses(s.template, "body") || s.anyInBody()
	return nil
}

func (s *hmacSession) anyInBody() bool {
	for _, p := range []*hmacPlacement{s.signature, s.timestamp, s.nonce, s.keyID} {
		if p != nil && p.in == "body" {
			return true
		}
	}
	return false
}

// hmacBlock reads the block key ({header|query|body: NAME, ...}); its
// other keys come back prefixed with "key.". A keyId block may have no
// placement (the id is only signed); the others need one.
func hmacBlock(raw map[string]any, key string) (*hmacPlacement, map[string]any, error) {
	v, ok := raw[key]
	if !ok || v == nil {
		return nil, nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s must be an object such as {header: NAME}, not %s", key, describeValue(v))
	}
	allowed := append(slices.Clone(spec.HMACPlacements), spec.HMACBlockKeys[key]...)
	p := &hmacPlacement{}
	extra := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(allowed, k) {
			return nil, nil, fmt.Errorf("%s has no key %q (keys: %s)", key, k, strings.Join(allowed, ", "))
		}
		if !slices.Contains(spec.HMACPlacements, k) {
			extra[key+"."+k] = m[k]
			continue
		}
		name, ok := m[k].(string)
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("%s.%s must be a name, not %s", key, k, describeValue(m[k]))
		}
		if p.in != "" {
			return nil, nil, fmt.Errorf("%s goes to one place: %s or %s, not both", key, p.in, k)
		}
		p.in, p.name = k, name
	}
	if pre, ok := extra[key+".prefix"]; ok {
		if p.prefix, ok = pre.(string); !ok {
			return nil, nil, fmt.Errorf("%s.prefix must be a string", key)
		}
	}
	if p.in == "" {
		if key == "keyId" {
			return nil, extra, nil
		}
		return nil, nil, fmt.Errorf("%s needs a place: header, query or body", key)
	}
	return p, extra, nil
}

// Apply places the timestamp, nonce and key id, then signs the request as
// it goes on the wire and places the signature.
func (s *hmacSession) Apply(req *http.Request, cl *Client, st *clientState) error {
	if err := s.sign(req, cl.eng.now()); err != nil {
		return redactError(fmt.Errorf("hmac-signature: %w", err), st.redact)
	}
	return nil
}

// sign signs req at now.
func (s *hmacSession) sign(req *http.Request, now time.Time) error {
	vals := map[string]string{}
	var body *signedBody
	if s.readBody {
		b, err := readSignedBody(req)
		if err != nil {
			return err
		}
		body = b
	}
	if s.timestamp != nil {
		vals["timestamp"] = formatSignTimestamp(now, s.timestampFormat)
	}
	if s.nonce != nil {
		vals["nonce"] = s.nextNonce(now)
	}
	if s.keyIDValue != "" {
		vals["keyId"] = s.keyIDValue
	}
	for _, pv := range [...]struct {
		p      *hmacPlacement
		part   string
		number bool
	}{
		{s.keyID, "keyId", false},
		{s.timestamp, "timestamp", strings.HasPrefix(s.timestampFormat, "unix")},
		{s.nonce, "nonce", s.nonceKind == "counter"},
	} {
		if pv.p == nil {
			continue
		}
		if err := place(req, body, pv.p, vals[pv.part], pv.number); err != nil {
			return err
		}
	}
	if body != nil {
		body.install(req)
	}
	mac := hmac.New(s.newHash, *s.key)
	writeSignNodes(mac, s.template, req, body, vals)
	sum := mac.Sum(nil)
	sig := hex.EncodeToString(sum)
	if s.base64 {
		sig = base64.StdEncoding.EncodeToString(sum)
	}
	if err := place(req, body, s.signature, sig, false); err != nil {
		return err
	}
	if body != nil {
		body.install(req)
	}
	return nil
}

// signedBody is a request body read to be signed (and perhaps added to).
type signedBody struct {
	data        []byte
	contentType string // the media type, lower case
}

var errSignedBodyTooLarge = fmt.Errorf("the request body is larger than %d bytes, the most a signed request may carry", MaxSignedBody)

// readSignedBody reads req's body without consuming it: through GetBody
// when it has one, else by buffering it once. Beyond MaxSignedBody it is
// refused.
func readSignedBody(req *http.Request) (*signedBody, error) {
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	b := &signedBody{contentType: strings.ToLower(mt)}
	if req.Body == nil || req.Body == http.NoBody {
		return b, nil
	}
	tooLarge, err := replayable(req, MaxSignedBody)
	if tooLarge {
		return nil, errSignedBodyTooLarge
	}
	var src io.ReadCloser
	if err == nil {
		src, err = req.GetBody()
	}
	if err != nil {
		return nil, fmt.Errorf("reading the body to sign: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(src, MaxSignedBody+1))
	src.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the body to sign: %w", err)
	}
	if len(data) > MaxSignedBody {
		return nil, errSignedBodyTooLarge
	}
	b.data = data
	return b, nil
}

// install makes b the body req sends.
func (b *signedBody) install(req *http.Request) {
	data := b.data
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	req.ContentLength = int64(len(data))
	if len(data) == 0 {
		req.Body = http.NoBody
	}
}

// place puts value where p says. A number (unix timestamps, counter
// nonces) goes into a JSON body as a number. A name that is already there
// is refused: the request would carry two values, one of them unsigned.
func place(req *http.Request, body *signedBody, p *hmacPlacement, value string, number bool) error {
	value = p.prefix + value
	switch p.in {
	case "header":
		if req.Header.Get(p.name) != "" {
			return fmt.Errorf("the request already has a header %s", p.name)
		}
		req.Header.Set(p.name, value)
	case "query":
		q := req.URL.RawQuery
		if vs, _ := url.ParseQuery(q); vs.Has(p.name) {
			return fmt.Errorf("the request already has a query parameter %s", p.name)
		}
		// Appended, not re-encoded: the query is signed as it is sent.
		if q != "" {
			q += "&"
		}
		req.URL.RawQuery = q + url.QueryEscape(p.name) + "=" + url.QueryEscape(value)
	case "body":
		return body.add(req, p.name, value, number)
	}
	return nil
}

// add adds the field name to a form or JSON object body; an empty body
// becomes a form.
func (b *signedBody) add(req *http.Request, name, value string, number bool) error {
	switch {
	case len(bytes.TrimSpace(b.data)) == 0 && (b.contentType == "" || b.contentType == "application/x-www-form-urlencoded"):
		b.contentType = "application/x-www-form-urlencoded"
		req.Header.Set("Content-Type", b.contentType)
		b.data = []byte(url.QueryEscape(name) + "=" + url.QueryEscape(value))
	case b.contentType == "application/x-www-form-urlencoded":
		vs, err := url.ParseQuery(string(b.data))
		if err != nil {
			return fmt.Errorf("the form body cannot be read to add %s: %w", name, err)
		}
		if vs.Has(name) {
			return fmt.Errorf("the request body already has a field %s", name)
		}
		b.data = fmt.Appendf(nil, "%s=%s&%s", url.QueryEscape(name), url.QueryEscape(value), b.data)
	case b.contentType == "application/json" || strings.HasSuffix(b.contentType, "+json"):
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b.data, &obj); err != nil || obj == nil {
			return fmt.Errorf("%s goes into the body, which must then be a JSON object", name)
		}
		if _, ok := obj[name]; ok {
			return fmt.Errorf("the request body already has a field %s", name)
		}
		field, _ := json.Marshal(name)
		val, _ := json.Marshal(value)
		if number {
			val = []byte(value)
		}
		rest := bytes.TrimSpace(b.data)[1:]
		sep := []byte(",")
		if len(obj) == 0 {
			sep = nil
		}
		b.data = slices.Concat([]byte("{"), field, []byte(":"), val, sep, rest)
	default:
		return fmt.Errorf("%s goes into the body, which must be a form or a JSON object, not %q", name, b.contentType)
	}
	return nil
}

// formatSignTimestamp formats now as format.
func formatSignTimestamp(now time.Time, format string) string {
	switch format {
	case "unixMillis":
		return strconv.FormatInt(now.UnixMilli(), 10)
	case "rfc3339":
		return now.UTC().Format(time.RFC3339)
	case "rfc3339Millis":
		return now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return strconv.FormatInt(now.Unix(), 10)
}

// nextNonce returns a random nonce (16 bytes, hex) or the next counter
// value: the time in milliseconds, or one more than the last when that is
// not larger, so that it always increases within the client.
func (s *hmacSession) nextNonce(now time.Time) string {
	if s.nonceKind != "counter" {
		return hex.EncodeToString(randomBytes(16))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastNonce = max(now.UnixMilli(), s.lastNonce+1)
	return strconv.FormatInt(s.lastNonce, 10)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

// digestHashes are the digests a string to sign may take.
var digestHashes = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// writeSignNodes writes the string to sign to w.
func writeSignNodes(w io.Writer, nodes []spec.SignNode, req *http.Request, body *signedBody, vals map[string]string) {
	for _, n := range nodes {
		switch {
		case n.Digest != "":
			h := digestHashes[n.Digest]()
			writeSignNodes(h, n.Args, req, body, vals)
			sum := h.Sum(nil)
			switch n.Encoding {
			case "hex":
				io.WriteString(w, hex.EncodeToString(sum))
			case "base64":
				io.WriteString(w, base64.StdEncoding.EncodeToString(sum))
			default:
				w.Write(sum)
			}
		case n.Part == "body":
			if body != nil {
				w.Write(body.data)
			}
		case n.Part != "":
			io.WriteString(w, signPart(n.Part, req, vals))
		default:
			io.WriteString(w, n.Text)
		}
	}
}

// signPart is the value of a request part of the string to sign.
func signPart(part string, req *http.Request, vals map[string]string) string {
	switch part {
	case "method":
		return strings.ToUpper(req.Method)
	case "host":
		return strings.ToLower(req.URL.Host)
	case "path":
		return req.URL.EscapedPath()
	case "query":
		return req.URL.RawQuery
	case "canonicalQuery":
		return canonicalQuery(req.URL.RawQuery)
	case "pathWithQuery":
		if req.URL.RawQuery == "" {
			return req.URL.EscapedPath()
		}
		return req.URL.EscapedPath() + "?" + req.URL.RawQuery
	}
	return vals[part]
}

// canonicalQuery is the query with its parameters sorted by name, then
// value, each encoded as RFC 3986 unreserved-or-%XX.
func canonicalQuery(raw string) string {
	vs, _ := url.ParseQuery(raw)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vs)) {
		for _, v := range slices.Sorted(slices.Values(vs[k])) {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(rfc3986Escape(k) + "=" + rfc3986Escape(v))
		}
	}
	return b.String()
}

// rfc3986Escape percent-encodes all but RFC 3986's unreserved characters.
func rfc3986Escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%7E", "~")
}
