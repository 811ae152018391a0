package engine

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchSigV4Connector signs for a loopback "API" (the signature is not
// checked there: the benchmark measures the client's side).
const benchSigV4Connector = `name: B
key: c
auth:
  type: aws-sigv4
  ui:
    schema:
      type: object
      properties:
        signing: {type: string}
  getAwsConfig:
    mapping:
      accessKeyId: AKIDEXAMPLE
      secretAccessKey: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
      sessionToken: bench-session-token
      region: us-east-1
      service: execute-api
      signing: {$var: connectionInput.signing}
  makeApiClient:
    mapping:
      baseUri: {{URL}}/v1
`

// BenchmarkSigV4 measures SigV4 signing per request against a bare
// request (same server, a header set by hand) and the engine's API-key
// client: header signing of a GET and of a 1 KiB POST (its body hashed from
// a second reader), and a presigned GET. Apply alone is sign-only.
func BenchmarkSigV4(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	b.Cleanup(srv.Close)
	client := func(b *testing.B, signing string) *Client {
		e := newEngine(b, srv, benchSigV4Connector)
		cl, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"signing": signing}})
		if err != nil {
			b.Fatal(err)
		}
		return cl
	}
	do := func(b *testing.B, c *http.Client, method, url string, body []byte) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequest(method, url, rd)
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	kib := []byte(strings.Repeat("k", 1024))
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		c := &http.Client{Transport: http.DefaultTransport}
		for b.Loop() {
			do(b, c, "GET", srv.URL+"/v1/users", nil)
		}
	})
	b.Run("header-get", func(b *testing.B) {
		c := client(b, "header").HTTPClient()
		b.ReportAllocs()
		for b.Loop() {
			do(b, c, "GET", "/users", nil)
		}
	})
	b.Run("header-post-1KiB", func(b *testing.B) {
		c := client(b, "header").HTTPClient()
		b.ReportAllocs()
		for b.Loop() {
			do(b, c, "POST", "/users", kib)
		}
	})
	b.Run("query-get", func(b *testing.B) {
		c := client(b, "query").HTTPClient()
		b.ReportAllocs()
		for b.Loop() {
			do(b, c, "GET", "/users", nil)
		}
	})
	b.Run("apply-only", func(b *testing.B) {
		cl := client(b, "header")
		st := cl.state.Load()
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/users?a=1", nil)
			if err := cl.session.Apply(req, cl, st); err != nil {
				b.Fatal(err)
			}
		}
	})
}
