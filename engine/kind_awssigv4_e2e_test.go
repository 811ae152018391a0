package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// awsGeneric reaches any AWS service in any region the connection names,
// and only hosts under amazonaws.com.
const awsGeneric = `name: AWS
key: c
auth:
  type: aws-sigv4
  allowedHosts: ["*.amazonaws.com"]
  ui:
    schema:
      type: object
      properties:
        accessKeyId: {type: string}
        secretAccessKey: {type: string, format: password}
        region: {type: string}
        service: {type: string}
        signing: {type: string}
        payload: {type: string}
  getAwsConfig:
    mapping:
      accessKeyId: {$var: connectionInput.accessKeyId}
      secretAccessKey: {$var: connectionInput.secretAccessKey}
      region: {$var: connectionInput.region}
      service: {$var: connectionInput.service}
      signing: {$var: connectionInput.signing}
      payload: {$var: connectionInput.payload}
  makeApiClient:
    mapping:
      baseUri: {$concat: ["https://", {$var: connectionInput.service}, ".", {$var: connectionInput.region}, ".amazonaws.com"]}
`

// awsRole assumes a role with the base credentials, through the regional
// STS endpoint of the connection's region.
const awsRole = `name: AWS
key: c
auth:
  type: aws-sigv4
  allowedHosts: ["*.amazonaws.com"]
  ui:
    schema:
      type: object
      properties:
        region: {type: string}
        roleArn: {type: string}
        externalId: {type: string}
  getAwsConfig:
    mapping:
      accessKeyId: AKIDBASE
      secretAccessKey: {$var: connectorParameters.secret}
      region: {$var: connectionInput.region}
      service: execute-api
      assumeRole:
        roleArn: {$var: connectionInput.roleArn}
        externalId: {$var: connectionInput.externalId}
        sessionName: connspec-test
        duration: 3600
        stsRegion: {$var: connectionInput.region}
  makeApiClient:
    mapping:
      baseUri: {$concat: ["https://api.execute-api.", {$var: connectionInput.region}, ".amazonaws.com"]}
`

func awsInput(f *fakeAWS, service, signing, payload string) map[string]any {
	return map[string]any{"accessKeyId": f.baseID, "secretAccessKey": f.baseSecret, "region": "eu-west-1",
		"service": service, "signing": signing, "payload": payload}
}

// noGetBody hides a reader's type, so that http.NewRequest gives the
// request no GetBody: a body that can be read only once.
type noGetBody struct{ io.Reader }

// TestSigV4IndependentVerifier: requests of every shape, signed by a
// client's Apply, verify on a loopback server that recomputes the
// signature from the secret with its own canonical-request code
// (awsVerify): header and presigned signing, awkward paths and queries,
// bodies that can be read again and bodies that cannot, S3's rules and
// UNSIGNED-PAYLOAD, and a retried request signed again.
func TestSigV4IndependentVerifier(t *testing.T) {
	type shape struct {
		method, path string
		body         func() io.Reader
	}
	big := strings.Repeat("x", 100_000)
	shapes := map[string]shape{
		"get":             {"GET", "/v1/items", nil},
		"query order":     {"GET", "/v1/items?b=2&a=1&a=0&z=%E1%88%B4&sp=a+b&e=", nil},
		"path utf8 space": {"GET", "/v1/it%20ems/%E1%88%B4/x", nil},
		"dot segments":    {"GET", "/v1/./a//b/../items", nil},
		"bytes body":      {"POST", "/v1/items", func() io.Reader { return strings.NewReader(`{"a":1}`) }},
		"streaming body":  {"POST", "/v1/items", func() io.Reader { return noGetBody{strings.NewReader(big)} }},
		"empty body":      {"POST", "/v1/items", func() io.Reader { return bytes.NewReader(nil) }},
		"put buffer":      {"PUT", "/v1/items/1", func() io.Reader { return bytes.NewBufferString("hello") }},
	}
	for _, mode := range []struct{ service, signing, payload string }{
		{"execute-api", "header", ""}, {"execute-api", "query", ""},
		{"s3", "header", ""}, {"s3", "header", "unsigned"}, {"s3", "query", "unsigned"},
	} {
		for name, sh := range shapes {
			if mode.service == "s3" && name == "dot segments" {
				continue // S3 keys may hold dot segments; covered by the vectors' raw cases
			}
			t.Run(fmt.Sprintf("%s %s %s/%s", mode.service, mode.signing, mode.payload, name), func(t *testing.T) {
				clock := newJWTClock()
				f := newFakeAWS(t, clock.now)
				f.s3 = mode.service == "s3"
				rt := loopbackTo(f.srv)
				e := newEngine(t, nil, awsGeneric, WithTransport(rt))
				e.now = clock.now
				cl := mustClient(t, e, Connection{ConnectionParameters: awsInput(f, mode.service, mode.signing, mode.payload)})
				var body io.Reader
				if sh.body != nil {
					body = sh.body()
				}
				req, err := http.NewRequest(sh.method, "https://"+mode.service+".eu-west-1.amazonaws.com"+sh.path, body)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := cl.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("HTTP %d: %s", resp.StatusCode, out)
				}
				f.mu.Lock()
				payload := f.lastPayload
				f.mu.Unlock()
				if want := mode.service == "s3" && mode.signing == "header"; want != (payload != "") {
					t.Errorf("X-Amz-Content-Sha256 %q", payload)
				}
				if mode.payload == "unsigned" && mode.signing == "header" && payload != "UNSIGNED-PAYLOAD" {
					t.Errorf("X-Amz-Content-Sha256 %q, want UNSIGNED-PAYLOAD", payload)
				}
			})
		}
	}
	t.Run("retry is signed again", func(t *testing.T) {
		clock := newJWTClock()
		f := newFakeAWS(t, clock.now)
		tries := 0
		inner := f.srv.Config.Handler
		f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tries++; tries == 1 {
				clock.add(2 * time.Second) // the retry is signed at its own time
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			inner.ServeHTTP(w, r)
		})
		e := newEngine(t, nil, awsGeneric, WithTransport(loopbackTo(f.srv)))
		e.now = clock.now
		cl := mustClient(t, e, Connection{ConnectionParameters: awsInput(f, "execute-api", "header", "")})
		out, err := cl.Do(context.Background(), "POST", "/v1/items", map[string]any{"a": 1})
		if err != nil || fmt.Sprint(out) != "map[len:7 ok:true]" {
			t.Fatalf("got %v, %v after %d tries", out, err, tries)
		}
	})
}

// TestSigV4BodyTooLargeToReadTwice: a body with no second reader over the
// buffering bound is refused naming the bound, never sent with a wrong or
// missing hash; with payload: unsigned it goes out as a stream.
func TestSigV4BodyTooLargeToReadTwice(t *testing.T) {
	clock := newJWTClock()
	f := newFakeAWS(t, clock.now)
	f.s3 = true
	big := strings.Repeat("y", awsMaxBufferedBody+1)
	for _, payload := range []string{"", "unsigned"} {
		e := newEngine(t, nil, awsGeneric, WithTransport(loopbackTo(f.srv)))
		e.now = clock.now
		cl := mustClient(t, e, Connection{ConnectionParameters: awsInput(f, "s3", "header", payload)})
		req, _ := http.NewRequest("PUT", "/bucket/key", noGetBody{strings.NewReader(big)})
		calls := f.apiCalls.Load()
		resp, err := cl.HTTPClient().Do(req)
		if payload == "" {
			if err == nil || !strings.Contains(err.Error(), "over 8 MiB") || !strings.Contains(err.Error(), "payload: unsigned") {
				t.Errorf("signed: got %v, want the bound named", err)
			}
			if f.apiCalls.Load() != calls {
				t.Error("the request was sent")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("unsigned: HTTP %d", resp.StatusCode)
		}
	}
}

// TestSigV4HostRefused: the signature is the credential; a request to a
// host the connector does not name, header-signed or presigned, is
// refused before it is signed or sent, and a typed region cannot move the
// API or STS host.
func TestSigV4HostRefused(t *testing.T) {
	clock := newJWTClock()
	f := newFakeAWS(t, clock.now)
	for _, signing := range []string{"header", "query"} {
		rt := loopbackTo(f.srv)
		e := newEngine(t, nil, awsGeneric, WithTransport(rt))
		cl := mustClient(t, e, Connection{ConnectionParameters: awsInput(f, "s3", signing, "")})
		for _, u := range []string{
			"https://evil.example.com/x",
			"https://s3.eu-west-1.amazonaws.com.evil.example.com/x",
			"http://s3.eu-west-1.amazonaws.com/x", // downgrade
			"https://127.0.0.1/x",
		} {
			_, err := cl.Get(context.Background(), u)
			var he *HostError
			if !errors.As(err, &he) && (err == nil || !strings.Contains(err.Error(), "not allowed")) {
				t.Errorf("%s %s: got %v, want the host refused", signing, u, err)
			}
		}
		if sent := rt.sent(); len(sent) != 0 {
			t.Errorf("%s: requests were sent to %v", signing, sent)
		}
	}
	for _, region := range []string{"evil.com/", "eu-west-1.evil.com#", "EU-WEST-1"} {
		rt := loopbackTo(f.srv)
		in := awsInput(f, "s3", "header", "")
		in["region"] = region
		_, err := newEngine(t, nil, awsGeneric, WithTransport(rt)).Client(context.Background(), Connection{Connector: "c", ConnectionParameters: in})
		if err == nil {
			t.Errorf("region %q: a client was made", region)
		}
		if sent := rt.sent(); len(sent) != 0 {
			t.Errorf("region %q: requests were sent to %v", region, sent)
		}
	}
}

// TestSigV4ConfigRefused: a configuration the signer cannot use as written
// is an error naming the key, never a request signed with part of it
// dropped, and never shows the secret key.
func TestSigV4ConfigRefused(t *testing.T) {
	const secret = "canary-secret-Zk81"
	base := `({accessKeyId: "AKID", secretAccessKey: "` + secret + `", region: "us-east-1", service: "s3"%s})`
	for name, c := range map[string]struct{ extra, want string }{
		"unknown key":            {`, regoin: "x"`, `no key "regoin"`},
		"bad signing":            {`, signing: "cookie"`, "signing must be one of header, query"},
		"bad payload":            {`, payload: "none"`, "payload must be one of signed, unsigned"},
		"bad canonicalPath":      {`, canonicalPath: "x"`, "canonicalPath must be one of"},
		"expires without query":  {`, expires: 60`, "presigned URLs only"},
		"expires over 7 days":    {`, signing: "query", expires: 604801`, "between 1 and 604800"},
		"no region":              {`, region: ""`, "region is required"},
		"region with a dot":      {`, region: "us.east"`, "region must be lower-case"},
		"secret as service":      {`, service: "` + secret + `/x"`, "service must be lower-case"},
		"assumeRole not object":  {`, assumeRole: "arn"`, "assumeRole must be an object"},
		"assumeRole unknown key": {`, assumeRole: {roleArn: "arn:aws:iam::1:role/r", roleArm: 1}`, `assumeRole has no key "roleArm"`},
		"assumeRole no arn":      {`, assumeRole: {externalId: "x"}`, "roleArn is required"},
		"duration too short":     {`, assumeRole: {roleArn: "arn:aws:iam::1:role/r", duration: 60}`, "between 900 and 43200"},
		"stsRegion bad":          {`, assumeRole: {roleArn: "arn:aws:iam::1:role/r", stsRegion: "x.y"}`, "stsRegion must be a region"},
	} {
		t.Run(name, func(t *testing.T) {
			src := `name: A
key: c
auth:
  type: aws-sigv4
  getAwsConfig:
    implementationType: javascript
    code: |
      export default () => ` + fmt.Sprintf(base, c.extra) + `
  makeApiClient:
    mapping:
      baseUri: https://s3.amazonaws.com
`
			_, err := newEngine(t, nil, src).Client(context.Background(), Connection{Connector: "c"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestSigV4SignerHeadersFromMakeApiClientRefused: a makeApiClient header the
// signature sets itself (Authorization, X-Amz-Date, X-Amz-Security-Token)
// is an error naming it, never silently replaced, and nothing is sent.
func TestSigV4SignerHeadersFromMakeApiClientRefused(t *testing.T) {
	clock := newJWTClock()
	f := newFakeAWS(t, clock.now)
	for _, h := range []string{"Authorization", "x-amz-date", "X-Amz-Security-Token"} {
		t.Run(h, func(t *testing.T) {
			spec := awsGeneric + "      headers:\n        " + h + ": from-the-connector\n"
			e := newEngine(t, nil, spec, WithTransport(loopbackTo(f.srv)))
			e.now = clock.now
			cl := mustClient(t, e, Connection{ConnectionParameters: awsInput(f, "execute-api", "header", "")})
			calls := f.apiCalls.Load()
			resp, err := cl.HTTPClient().Get("/items")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("the request was sent (HTTP %d)", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), "makeApiClient sets the "+http.CanonicalHeaderKey(h)+" header") {
				t.Errorf("error %q does not name the header", err)
			}
			if f.apiCalls.Load() != calls {
				t.Error("the request reached the API")
			}
		})
	}
}
