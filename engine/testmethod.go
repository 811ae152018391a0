package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/connspec/connspec/formulas"
	"github.com/connspec/connspec/spec"
)

// ErrTestFailed is matched by every failed connection test.
var ErrTestFailed = errors.New("connection test failed")

// TestError is a failed connection test, with the reason.
type TestError struct {
	Reason string
	Err    error
}

func (e *TestError) Error() string {
	if e.Err != nil {
		return "connection test failed: " + e.Err.Error()
	}
	return "connection test failed: " + e.Reason
}

// Unwrap returns the cause, if the test failed with an error.
func (e *TestError) Unwrap() []error { return []error{ErrTestFailed, e.Err} }

// HasTest reports whether the connection's auth option defines a test.
func (cl *Client) HasTest() bool { return cl.auth.hasMethod(spec.MethodTest) }

// Test runs the auth option's test method: JavaScript (with apiClient),
// a mapping whose result must be truthy, or a rest-api-mapping request that
// must answer 2xx. It returns nil when the test passes (or there is none) and
// a *TestError otherwise. Credentials change only through the normal
// refresh path.
func (cl *Client) Test(ctx context.Context) error {
	m := cl.auth.Methods[spec.MethodTest]
	if m == nil {
		return nil
	}
	st := cl.state.Load()
	vars := cl.vars(maps.Clone(st.credentials))
	switch m.Spec.ImplementationType {
	case spec.ImplRestAPIMapping:
		return cl.testRequest(ctx, m, vars, st)
	default:
		out, err := cl.eng.runMethod(ctx, m, vars, cl, st.redact)
		if err != nil {
			return &TestError{Err: err}
		}
		if !formulas.Truthy(out) {
			return &TestError{Reason: fmt.Sprintf("%s returned %s", m.Spec.Name, describeValue(out))}
		}
		return nil
	}
}

// testRequest performs the request a rest-api-mapping test describes:
// {path, method, requestMapping}; requestMapping is the query of a GET or
// DELETE and the JSON body otherwise.
func (cl *Client) testRequest(ctx context.Context, m *Method, vars map[string]any, st *clientState) error {
	out, err := m.Mapping.Evaluate(vars)
	if err != nil {
		return &TestError{Err: redactedMethodError(m, err, st.redact)}
	}
	req, _ := out.(map[string]any)
	path, _ := req["path"].(string)
	if path == "" {
		return &TestError{Err: methodError(m, errors.New("rest-api-mapping needs a path"))}
	}
	method, _ := req["method"].(string)
	method = strings.ToUpper(method)
	if method == "" {
		method = http.MethodGet
	}
	var body any
	var opts []RequestOption
	if rm, ok := req["requestMapping"].(map[string]any); ok {
		if method == http.MethodGet || method == http.MethodDelete {
			opts = append(opts, WithQuery(queryValues(rm)))
		} else {
			body = rm
		}
	}
	if _, err := cl.Do(ctx, method, path, body, opts...); err != nil {
		return &TestError{Err: err}
	}
	return nil
}
