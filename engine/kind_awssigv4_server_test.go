package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// awsEncode is SigV4's URI encoding: everything but unreserved characters
// percent-encoded in upper case (written here apart from the library's).
func awsEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// awsVerify recomputes r's SigV4 signature (header or presigned) from the
// secret of its access key, the way an AWS service checks it, and returns
// the access key id or why it does not verify. s3 selects S3's path rule
// (encoded once); other services encode the path as received again.
func awsVerify(r *http.Request, body []byte, secrets func(id string) (secret, token string, ok bool), s3 bool, now time.Time) (string, error) {
	q := r.URL.Query()
	var cred, signedHeaders, sig, amzDate string
	presigned := q.Has("X-Amz-Signature")
	if presigned {
		cred, signedHeaders, sig, amzDate = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), q.Get("X-Amz-Date")
		q.Del("X-Amz-Signature")
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			return "", fmt.Errorf("X-Amz-Algorithm %q", q.Get("X-Amz-Algorithm"))
		}
	} else {
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
		if !ok {
			return "", fmt.Errorf("no SigV4 Authorization header")
		}
		for part := range strings.SplitSeq(auth, ", ") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "Credential":
				cred = v
			case "SignedHeaders":
				signedHeaders = v
			case "Signature":
				sig = v
			}
		}
		amzDate = r.Header.Get("X-Amz-Date")
	}
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || t.Sub(now).Abs() > 5*time.Minute {
		return "", fmt.Errorf("X-Amz-Date %q is not now", amzDate)
	}
	scope := strings.SplitN(cred, "/", 2)
	if len(scope) != 2 || !strings.HasPrefix(scope[1], amzDate[:8]+"/") {
		return "", fmt.Errorf("credential %q", cred)
	}
	secret, token, ok := secrets(scope[0])
	if !ok {
		return "", fmt.Errorf("unknown access key")
	}
	gotToken := r.Header.Get("X-Amz-Security-Token")
	if presigned {
		gotToken = q.Get("X-Amz-Security-Token")
	}
	if gotToken != token {
		return "", fmt.Errorf("session token does not match")
	}
	if token != "" && !slices.Contains(strings.Split(signedHeaders, ";"), "x-amz-security-token") && !presigned {
		return "", fmt.Errorf("session token not signed")
	}
	// Canonical path.
	p := r.URL.EscapedPath()
	if !s3 {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			segs[i] = awsEncode(s)
		}
		p = strings.Join(segs, "/")
	}
	// Canonical query: encoded pairs sorted.
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, awsEncode(k)+"="+awsEncode(v))
		}
	}
	slices.Sort(pairs)
	// Canonical headers.
	var hdrs strings.Builder
	for _, h := range strings.Split(signedHeaders, ";") {
		var vals []string
		switch h {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = []string{fmt.Sprint(r.ContentLength)}
		default:
			for _, v := range r.Header.Values(h) {
				vals = append(vals, strings.Join(strings.Fields(v), " "))
			}
		}
		fmt.Fprintf(&hdrs, "%s:%s\n", h, strings.Join(vals, ","))
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case presigned && s3:
		payload = "UNSIGNED-PAYLOAD"
	case payload == "":
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	case payload != "UNSIGNED-PAYLOAD":
		sum := sha256.Sum256(body)
		if payload != hex.EncodeToString(sum[:]) {
			return "", fmt.Errorf("X-Amz-Content-Sha256 is not the body's hash")
		}
	}
	creq := strings.Join([]string{r.Method, p, strings.Join(pairs, "&"), hdrs.String(), signedHeaders, payload}, "\n")
	creqHash := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope[1] + "\n" + hex.EncodeToString(creqHash[:])
	parts := strings.Split(scope[1], "/") // date/region/service/aws4_request
	k := hmacSHA256([]byte("AWS4"+secret), parts[0])
	for _, s := range parts[1:] {
		k = hmacSHA256(k, s)
	}
	if want := hex.EncodeToString(hmacSHA256(k, sts)); !hmac.Equal([]byte(want), []byte(sig)) {
		return "", fmt.Errorf("signature does not match; canonical request:\n%s", creq)
	}
	return scope[0], nil
}

// fakeAWS is a loopback AWS: STS AssumeRole (checked against the base
// secret) and an API that checks every signature against the secret of
// the key it names, both with awsVerify.
type fakeAWS struct {
	t           testing.TB
	now         func() time.Time
	baseID      string
	baseSecret  string
	s3          bool
	duration    time.Duration
	assumes     atomic.Int64
	apiCalls    atomic.Int64
	stsRespond  func(w http.ResponseWriter) bool // optional override
	mu          sync.Mutex
	issued      map[string][2]string // access key id -> secret, token
	failures    []string
	lastRole    url.Values
	lastHost    string
	srv         *httptest.Server
	lastPayload string
}

func newFakeAWS(t testing.TB, now func() time.Time) *fakeAWS {
	f := &fakeAWS{t: t, now: now, baseID: "AKIDBASE", baseSecret: "canary-base-secret-9Qz", duration: time.Hour, issued: map[string][2]string{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) fail(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func (f *fakeAWS) check() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.failures {
		f.t.Error("fake AWS: " + m)
	}
}

func (f *fakeAWS) secrets(id string) (string, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == f.baseID {
		return f.baseSecret, "", true
	}
	c, ok := f.issued[id]
	return c[0], c[1], ok
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.lastHost = r.Host
	f.lastPayload = r.Header.Get("X-Amz-Content-Sha256")
	f.mu.Unlock()
	if strings.HasPrefix(r.Host, "sts.") {
		f.serveSTS(w, r, body)
		return
	}
	f.apiCalls.Add(1)
	if _, err := awsVerify(r, body, f.secrets, f.s3, f.now()); err != nil {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"message":%q}`, err.Error())
		return
	}
	fmt.Fprintf(w, `{"ok":true,"len":%d}`, len(body))
}

func (f *fakeAWS) serveSTS(w http.ResponseWriter, r *http.Request, body []byte) {
	if f.stsRespond != nil && f.stsRespond(w) {
		return
	}
	id, err := awsVerify(r, body, f.secrets, false, f.now())
	if err != nil || id != f.baseID {
		f.fail("AssumeRole signature: %v (key %s)", err, id)
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>`))
		return
	}
	form, _ := url.ParseQuery(string(body))
	if form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		f.fail("STS form %v", form)
	}
	n := f.assumes.Add(1)
	tid, tsecret, ttok := fmt.Sprintf("ASIATEMP%d", n), fmt.Sprintf("canary-temp-secret-%d", n), fmt.Sprintf("canary-temp-token-%d", n)
	f.mu.Lock()
	f.issued[tid] = [2]string{tsecret, ttok}
	f.lastRole = form
	f.mu.Unlock()
	exp := f.now().Add(f.duration).UTC().Format(time.RFC3339)
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>x</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`, tid, tsecret, ttok, exp)
}

// toLoopback sends every request to one loopback server, keeping the
// Host it was signed for, and records the hosts asked for.
type toLoopback struct {
	target *url.URL
	mu     sync.Mutex
	hosts  []string
}

func (rt *toLoopback) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.hosts = append(rt.hosts, r.URL.Host)
	rt.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.Host = r.URL.Host
	r2.URL.Scheme, r2.URL.Host = rt.target.Scheme, rt.target.Host
	return http.DefaultTransport.RoundTrip(r2)
}

func (rt *toLoopback) sent() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.hosts)
}

func loopbackTo(srv *httptest.Server) *toLoopback {
	u, _ := url.Parse(srv.URL)
	return &toLoopback{target: u}
}
