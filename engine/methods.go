package engine

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// runMethod runs a compiled method with its variables. api, when not nil,
// is the authenticated client offered to JavaScript as apiClient. Errors are
// *MethodError values with every secret the redactor knows hidden.
func (e *Engine) runMethod(ctx context.Context, m *Method, vars map[string]any, api *Client, r *redactor) (any, error) {
	ctx, endSpan := e.startMethod(ctx, m)
	var out any
	var err error
	defer func() { endSpan(err) }()
	switch {
	case m.Mapping != nil:
		out, err = m.Mapping.Evaluate(vars)
	case m.Script != nil:
		input := vars
		if api != nil {
			input = withAPIClient(ctx, vars, api)
		}
		opts := e.js
		if opts.Logger == nil {
			opts.Logger = e.logger
		}
		opts.Secrets = r.Secrets()
		opts.Fetch = e.jsFetch(e.methodWire(ctx, api), m.hosts, vars, r)
		out, err = m.Script.Call(ctx, input, opts)
	default:
		return nil, methodError(m, errNotCompiled)
	}
	if err != nil {
		return nil, redactedMethodError(m, err, r)
	}
	return out, nil
}

// methodWire is the transport a method's fetch goes out on: its
// connection's wire (presenting its client certificate), from the client
// it runs on or the context of the flow or client construction running it.
func (e *Engine) methodWire(ctx context.Context, api *Client) http.RoundTripper {
	if api != nil && api.baseWire.rt != nil {
		return api.baseWire.rt
	}
	return e.wireOf(ctx).rt
}

// hasMethod reports whether a has a method with the given name.
func (a *Auth) hasMethod(name string) bool { return a.Methods[name] != nil }

var errNotCompiled = errors.New("method has no compiled body")
