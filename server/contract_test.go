package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/connspec/connspec/server"
)

// The admin API's contract (server/openapi.json) is held against the real
// traffic of the server tests: every test client goes through
// contractCheck, which validates each request and response of a documented
// route with kin-openapi (OpenAPI 3.1, JSON Schema 2020-12).

// maxAdminBody is the size limit of admin request bodies, which the
// contract states in words (a schema cannot).
const maxAdminBody = 1 << 20

var (
	contractOnce   sync.Once
	contractDoc    *openapi3.T
	contractRouter routers.Router
	contractErr    error
)

// loadContract parses and validates the embedded document once.
func loadContract(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	contractOnce.Do(func() {
		loader := openapi3.NewLoader()
		contractDoc, contractErr = loader.LoadFromData(server.OpenAPI())
		if contractErr == nil {
			contractErr = contractDoc.Validate(loader.Context)
		}
		if contractErr == nil {
			contractRouter, contractErr = gorillamux.NewRouter(contractDoc)
		}
	})
	if contractErr != nil {
		t.Fatalf("server/openapi.json: %v", contractErr)
	}
	return contractDoc, contractRouter
}

// contractCheck is a RoundTripper that validates every exchange with a
// route of the contract. A request the contract refuses must be refused
// (4xx); a request it allows must not be refused as malformed (400
// bad_request); every response must be one the contract describes, status
// included. Routes outside the contract (proxy, connect page) pass
// unchecked; TestContractCoversEveryRoute keeps that set honest.
type contractCheck struct {
	t       testing.TB
	next    http.RoundTripper
	router  routers.Router
	keyless bool // the server runs without an API key (InsecureNoKey)
	// seen, when set, is told each validated answer by operation id.
	seen func(operationID string, status int)
}

// withContractCheck returns a copy of c whose requests are validated.
func withContractCheck(t testing.TB, c *http.Client, keyless bool) *http.Client {
	_, router := loadContract(t)
	checked := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	checked.Transport = &contractCheck{t: t, next: next, router: router, keyless: keyless}
	return &checked
}

func (c *contractCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return c.next.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	probe := req.Clone(req.Context())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	if len(reqBody) > 0 && probe.Header.Get("Content-Type") == "" {
		// The server reads a body as JSON whatever its type (the contract says so).
		probe.Header.Set("Content-Type", "application/json")
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: c.authenticate, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(req.Context(), in)

	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, nil
	}
	what := req.Method + " " + req.URL.Path
	if c.seen != nil {
		c.seen(route.Operation.OperationID, resp.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		c.t.Errorf("contract: the answer %d to %s is not the documented one: %v\nbody: %.500s", resp.StatusCode, what, err, respBody)
	}
	switch {
	case reqErr != nil && resp.StatusCode/100 != 4:
		c.t.Errorf("contract: %s is refused by the contract (%v) but the server answered %d", what, reqErr, resp.StatusCode)
	case reqErr == nil && len(reqBody) <= maxAdminBody && resp.StatusCode == http.StatusBadRequest && bytes.Contains(respBody, []byte(`"bad_request"`)):
		c.t.Errorf("contract: the server refused %s as malformed, but the contract allows it: %.300s", what, respBody)
	}
	return resp, nil
}

// authenticate checks what the contract's adminKey scheme asks of a
// request: a bearer token (its value is the server's business).
func (c *contractCheck) authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if c.keyless {
		return nil
	}
	if in.SecuritySchemeName != "adminKey" {
		return errors.New("unknown security scheme " + in.SecuritySchemeName)
	}
	tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return errors.New("no bearer token")
	}
	return nil
}
