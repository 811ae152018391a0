package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// bigBodyServer answers every request with a text body one byte longer
// than MaxResponseBody.
func bigBodyServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		chunk := strings.Repeat("x", 1<<20)
		for range MaxResponseBody >> 20 {
			io.WriteString(w, chunk)
		}
		io.WriteString(w, "!")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A body over the limit is an error from the JSON helpers (and apiClient,
// which uses them), never text silently cut short.
func TestClientDoRefusesABodyOverTheLimit(t *testing.T) {
	srv := bigBodyServer(t)
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping: {baseUri: "{{URL}}"}
`)
	_, err := mustClient(t, e, Connection{}).Get(context.Background(), "/big")
	if err == nil || !strings.Contains(err.Error(), "larger than the limit of 32 MiB") {
		t.Fatalf("err = %v, want the body limit named", err)
	}
}

// Response handlers read the body to judge it; the caller of HTTPClient()
// still gets all of it, however large.
func TestResponseHandlersKeepTheWholeBody(t *testing.T) {
	srv := bigBodyServer(t)
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: "{{URL}}"
      responseHandlers:
        - match: {$eval: {$var: response.data}, is: nope}
          error: {key: never, message: never}
`)
	resp, err := mustClient(t, e, Connection{}).HTTPClient().Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != MaxResponseBody+1 {
		t.Fatalf("read %d bytes (%v), want all %d", n, err, MaxResponseBody+1)
	}
}
