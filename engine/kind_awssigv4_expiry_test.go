package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// awsExpiredAnswers are the ways AWS services say a request's temporary
// credentials have expired: S3 and the Query APIs in XML, the JSON APIs
// with __type, a header, or only a message.
var awsExpiredAnswers = map[string]struct {
	status      int
	contentType string
	header      [2]string
	body        string
}{
	"s3 xml": {403, "application/xml", [2]string{}, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message><RequestId>1</RequestId></Error>`},
	"query xml RequestExpired": {400, "text/xml", [2]string{}, `<ErrorResponse><Error><Type>Sender</Type><Code>RequestExpired</Code><Message>Request has expired.</Message></Error></ErrorResponse>`},
	"ec2 xml":                  {400, "text/xml", [2]string{}, `<Response><Errors><Error><Code>ExpiredToken</Code><Message>x</Message></Error></Errors><RequestID>1</RequestID></Response>`},
	"json __type":              {400, "application/x-amz-json-1.1", [2]string{}, `{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"The security token included in the request is expired"}`},
	"json header":              {403, "application/json", [2]string{"X-Amzn-ErrorType", "ExpiredTokenException:http://internal.amazon.com/coral/com.amazon.coral.service/"}, `{"message":null}`},
	"json message":             {403, "application/json", [2]string{}, `{"message":"The security token included in the request is expired"}`},
}

// expireAWSKey makes f's API answer every request signed with key (an
// access key id) with answer, and count them.
func expireAWSKey(f *fakeAWS, key string, status int, contentType string, header [2]string, body string) *int {
	var n int
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Host, "sts.") || !strings.Contains(r.Header.Get("Authorization"), "Credential="+key+"/") {
			inner.ServeHTTP(w, r)
			return
		}
		n++
		w.Header().Set("Content-Type", contentType)
		if header[0] != "" {
			w.Header().Set(header[0], header[1])
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
	return &n
}

// TestSigV4RoleExpiredAnswer: role credentials the API declares expired
// (before connspec thinks they are: a clock skew, a revoked session) are
// renewed once and the request sent again, signed with the new ones,
// whatever form the answer takes; an AccessDenied is returned as is.
func TestSigV4RoleExpiredAnswer(t *testing.T) {
	for name, a := range awsExpiredAnswers {
		t.Run(name, func(t *testing.T) {
			clock := newJWTClock()
			f := newFakeAWS(t, clock.now)
			refused := expireAWSKey(f, "ASIATEMP1", a.status, a.contentType, a.header, a.body)
			e, _ := awsRoleEngine(t, f, clock)
			cl := mustClient(t, e, Connection{ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()})
			out, err := cl.Do(context.Background(), "POST", "/prod/items", map[string]any{"a": 1})
			if err != nil || out.(map[string]any)["ok"] != true {
				t.Fatalf("got %v, %v", out, err)
			}
			if n := f.assumes.Load(); n != 2 || *refused != 1 {
				t.Errorf("%d AssumeRole and %d refused calls, want 2 and 1", n, *refused)
			}
			if id := cl.Credentials()["accessKeyId"]; id != "ASIATEMP2" {
				t.Errorf("credentials hold %v, want ASIATEMP2", id)
			}
			f.check()
		})
	}
	t.Run("AccessDenied", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		refused := expireAWSKey(f, "ASIATEMP1", 403, "application/xml", [2]string{},
			`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		e, _ := awsRoleEngine(t, f, clock)
		cl := mustClient(t, e, Connection{ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()})
		_, err := cl.Get(context.Background(), "/prod/items")
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 403 || !strings.Contains(string(he.Body), "AccessDenied") {
			t.Fatalf("want the 403 AccessDenied answer, got %v", err)
		}
		if n := f.assumes.Load(); n != 1 || *refused != 1 {
			t.Errorf("%d AssumeRole and %d calls, want 1 and 1", n, *refused)
		}
	})
	t.Run("expired answer after renewal", func(t *testing.T) {
		// The API still calls the new credentials expired: one renewal,
		// then its answer, never a loop.
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		a := awsExpiredAnswers["s3 xml"]
		inner := f.srv.Config.Handler
		calls := 0
		f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Host, "sts.") {
				inner.ServeHTTP(w, r)
				return
			}
			calls++
			w.WriteHeader(a.status)
			w.Write([]byte(a.body))
		})
		e, _ := awsRoleEngine(t, f, clock)
		cl := mustClient(t, e, Connection{ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()})
		_, err := cl.Get(context.Background(), "/prod/items")
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 403 || !strings.Contains(string(he.Body), "ExpiredToken") {
			t.Fatalf("want the 403 ExpiredToken answer with its body, got %v", err)
		}
		if n := f.assumes.Load(); n != 2 || calls != 2 {
			t.Errorf("%d AssumeRole and %d API calls, want 2 and 2", n, calls)
		}
	})
}

// TestSigV4StaticExpiredNotRenewed: static keys (with or without a session
// token) the API calls expired are returned as the API's answer, once:
// there is nothing to renew them with.
func TestSigV4StaticExpiredNotRenewed(t *testing.T) {
	for name, a := range awsExpiredAnswers {
		t.Run(name, func(t *testing.T) {
			clock := newJWTClock()
			f := newFakeAWS(t, clock.now)
			refused := expireAWSKey(f, f.baseID, a.status, a.contentType, a.header, a.body)
			e := newEngine(t, nil, awsGeneric, WithTransport(loopbackTo(f.srv)))
			e.now = clock.now
			cl := mustClient(t, e, Connection{ConnectionParameters: awsInput(f, "execute-api", "header", "")})
			_, err := cl.Get(context.Background(), "/prod/items")
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != a.status {
				t.Fatalf("want the API's HTTP %d answer, got %v", a.status, err)
			}
			if *refused != 1 || f.assumes.Load() != 0 {
				t.Errorf("%d calls and %d AssumeRole, want 1 and 0", *refused, f.assumes.Load())
			}
		})
	}
}
