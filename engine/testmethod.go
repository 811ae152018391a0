package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"

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

// Test runs the auth option's test method: JavaScript (with apiClient), a
// mapping, or an API request (rest-api-mapping, or a mapping with path,
// method, requestMapping and responseMapping) sent through this client,
// which must answer 2xx. The result (the method's return value, or the
// request's responseMapping) must be truthy. It returns nil when the test
// passes (or there is none) and a *TestError otherwise. Credentials change
// only through the normal refresh path.
func (cl *Client) Test(ctx context.Context) error {
	m := cl.auth.Methods[spec.MethodTest]
	if m == nil {
		return nil
	}
	st := cl.state.Load()
	vars := cl.vars(maps.Clone(st.credentials))
	var out any
	var err error
	if m.Request != nil {
		out, err = cl.callAPI(ctx, m, vars, st)
	} else {
		out, err = cl.eng.runMethod(ctx, m, vars, cl, st.redact)
	}
	if err != nil {
		return &TestError{Err: err}
	}
	if !formulas.Truthy(out) {
		what := m.Spec.Name
		if m.Request != nil {
			what += "'s responseMapping"
		}
		return &TestError{Reason: fmt.Sprintf("%s returned %s", what, describeFalsy(out))}
	}
	return nil
}

// describeFalsy names a falsy result exactly: it is never a secret (false,
// 0, "" or nothing), and "returned false" says more than "a boolean".
func describeFalsy(v any) string {
	switch t := v.(type) {
	case bool:
		return "false"
	case string:
		return "an empty string"
	case int64, int, float64:
		return "0"
	case map[string]any:
		if t == nil {
			return "nothing"
		}
	}
	return describeValue(v)
}
