package engine

// A method body that describes one API request:
//
//	path: /current-user
//	method: get
//	requestMapping: {query: ..., headers: ..., data: ..., pathParameters: ...}
//	responseMapping: {$eval: {$var: $.response.id}, isNotEmpty: true}
//
// It is the "API Request Implementation" of test in integration.app's docs
// (https://docs.integration.app/docs/test, implementationType: mapping) and
// Membrane's rest-api-mapping function type
// (https://docs.getmembrane.com/docs/references/functions/function-types/rest-api-mapping).
// The request goes through the connection's own client, so the host policy,
// headers, signing and refresh on 401 all apply.

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/formulas"
	"github.com/connspec/connspec/spec"
)

// requestKeys are the keys of an API-request body.
var requestKeys = []string{"path", "method", "requestMapping", "responseMapping"}

// requestMappingKeys are the parts of requestMapping the docs name.
var requestMappingKeys = []string{"query", "headers", "data", "pathParameters"}

// requestMethods are the HTTP methods the docs list for rest-api-mapping.
var requestMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// apiRequest is a compiled API-request body.
type apiRequest struct {
	// request evaluates to {path, method, requestMapping}.
	request *formulas.Mapping
	// response is responseMapping, evaluated with the variable response;
	// nil when the body has none (then any 2xx answer is the result).
	response *formulas.Mapping
}

// isAPIRequest reports whether m's body describes an API request: every
// rest-api-mapping body, and a mapping test whose top level uses the
// request keys (the docs' "API Request Implementation" of test).
func isAPIRequest(m *spec.Method) bool {
	switch m.ImplementationType {
	case spec.ImplRestAPIMapping:
		return true
	case spec.ImplMapping:
		if m.Name != spec.MethodTest || !isLiteralMapping(m.Mapping) {
			return false
		}
		for i := 0; i+1 < len(m.Mapping.Content); i += 2 {
			if slices.Contains(requestKeys, m.Mapping.Content[i].Value) {
				return true
			}
		}
	}
	return false
}

// isLiteralMapping reports whether n is a YAML mapping that is not a formula.
func isLiteralMapping(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && !(len(n.Content) > 0 && strings.HasPrefix(n.Content[0].Value, "$"))
}

// apiRequest compiles an API-request body, reporting keys the format does
// not have. inputs are the variables the method receives.
func (cc *compiler) apiRequest(m *spec.Method, inputs []string) (*apiRequest, bool) {
	n := m.Mapping
	diag := func(at *yaml.Node, format string, args ...any) {
		cc.diags = append(cc.diags, spec.Diagnostic{Severity: spec.SeverityError, File: m.Body.File, Line: at.Line, Column: at.Column,
			Message: fmt.Sprintf("%s: %s", m.Name, fmt.Sprintf(format, args...))})
	}
	if !isLiteralMapping(n) {
		at := n
		if at == nil {
			at = &yaml.Node{Line: m.Body.Line, Column: m.Body.Column}
		}
		diag(at, "a %s body must be a mapping with path, method, requestMapping and responseMapping, not a formula", m.ImplementationType)
		return nil, false
	}
	req := *n
	req.Content = nil
	var resp *yaml.Node
	ok, hasPath := true, false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "responseMapping":
			resp = v
			continue
		case "path":
			hasPath = true
		case "method":
			if v.Kind == yaml.ScalarNode && !slices.Contains(requestMethods, strings.ToUpper(v.Value)) {
				diag(v, "method %q is not one of %s", v.Value, strings.Join(requestMethods, ", "))
				ok = false
			}
		case "requestMapping":
			ok = cc.checkRequestMapping(m, v, diag) && ok
		default:
			diag(k, "an API request has no key %q (it has %s)", k.Value, strings.Join(requestKeys, ", "))
			ok = false
		}
		req.Content = append(req.Content, k, v)
	}
	if !hasPath {
		diag(n, "an API request needs a path")
		ok = false
	}
	out := &apiRequest{}
	var compiled bool
	out.request, compiled = cc.mapping(m, &req, inputs)
	ok = ok && compiled
	if resp != nil {
		out.response, compiled = cc.mapping(m, resp, append(slices.Clone(inputs), "response"))
		ok = ok && compiled
	}
	return out, ok
}

// checkRequestMapping checks a literal requestMapping: its keys are query,
// headers, data and pathParameters. A requestMapping with none of them is
// the older flat form (the query of a GET or DELETE, the body otherwise):
// it still works, with a warning; a mix of both is an error.
func (cc *compiler) checkRequestMapping(m *spec.Method, n *yaml.Node, diag func(*yaml.Node, string, ...any)) bool {
	if !isLiteralMapping(n) {
		return true // a formula: checked when it is evaluated
	}
	var known, other []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; slices.Contains(requestMappingKeys, k) {
			known = append(known, k)
		} else {
			other = append(other, k)
		}
	}
	switch {
	case len(other) == 0:
		return true
	case len(known) == 0:
		cc.diags = append(cc.diags, spec.Diagnostic{Severity: spec.SeverityWarning, File: m.Body.File, Line: n.Line, Column: n.Column,
			Message: fmt.Sprintf("%s: requestMapping keys %s are sent as the query of a GET or DELETE and as the JSON body otherwise; write them under requestMapping.query or requestMapping.data",
				m.Name, strings.Join(other, ", "))})
		return true
	}
	diag(n, "requestMapping mixes %s with %s: put every parameter under %s", strings.Join(known, ", "), strings.Join(other, ", "), strings.Join(requestMappingKeys, ", "))
	return false
}

// apiCall is an evaluated request, ready to send.
type apiCall struct {
	method, path string
	query        url.Values
	headers      map[string]string
	body         any
}

// callFor evaluates the request part of r.
func callFor(m *Method, r *apiRequest, vars map[string]any) (*apiCall, error) {
	out, err := r.request.Evaluate(vars)
	if err != nil {
		return nil, err
	}
	req, _ := out.(map[string]any)
	c := &apiCall{method: http.MethodGet}
	if s, ok := req["method"].(string); ok && s != "" {
		c.method = strings.ToUpper(s)
	}
	if !slices.Contains(requestMethods, c.method) {
		return nil, fmt.Errorf("method %s is not one of %s", describeValue(req["method"]), strings.Join(requestMethods, ", "))
	}
	c.path, _ = req["path"].(string)
	if c.path == "" {
		return nil, fmt.Errorf("the request path is %s, not a string", describeValue(req["path"]))
	}
	rm, isMap := req["requestMapping"].(map[string]any)
	if req["requestMapping"] != nil && !isMap {
		return nil, fmt.Errorf("requestMapping is %s, not a mapping", describeValue(req["requestMapping"]))
	}
	if err := c.applyRequestMapping(rm); err != nil {
		return nil, err
	}
	return c, nil
}

// applyRequestMapping fills query, headers, body and path parameters.
func (c *apiCall) applyRequestMapping(rm map[string]any) error {
	structured := len(rm) == 0
	for k := range rm {
		if slices.Contains(requestMappingKeys, k) {
			structured = true
		} else if structured {
			return fmt.Errorf("requestMapping has key %q; it has %s", k, strings.Join(requestMappingKeys, ", "))
		}
	}
	if !structured {
		// The older flat form (warned about at validate time).
		if c.method == http.MethodGet || c.method == http.MethodDelete {
			q, err := queryValues(rm)
			if err != nil {
				return err
			}
			c.query = q
		} else {
			c.body = rm
		}
		return nil
	}
	parts := map[string]map[string]any{}
	for _, k := range []string{"query", "headers", "pathParameters"} {
		if rm[k] == nil {
			continue
		}
		v, ok := rm[k].(map[string]any)
		if !ok {
			return fmt.Errorf("requestMapping.%s is %s, not a mapping", k, describeValue(rm[k]))
		}
		parts[k] = v
	}
	q, err := queryValues(parts["query"])
	if err != nil {
		return err
	}
	c.query = q
	c.headers = map[string]string{}
	for name, v := range parts["headers"] {
		s, ok := scalarString(v)
		if !ok {
			return fmt.Errorf("requestMapping.headers.%s is %s, not a single value", name, describeValue(v))
		}
		if v != nil {
			c.headers[name] = s
		}
	}
	if rm["data"] != nil {
		if c.method == http.MethodGet || c.method == http.MethodDelete {
			return fmt.Errorf("requestMapping.data is a request body, which a %s request does not send", c.method)
		}
		c.body = rm["data"]
	}
	return c.fillPath(parts["pathParameters"])
}

// fillPath puts pathParameters into the {name} placeholders of the path.
func (c *apiCall) fillPath(params map[string]any) error {
	for name, v := range params {
		s, ok := scalarString(v)
		if !ok || v == nil {
			return fmt.Errorf("requestMapping.pathParameters.%s is %s, not a single value", name, describeValue(v))
		}
		ph := "{" + name + "}"
		if !strings.Contains(c.path, ph) {
			return fmt.Errorf("requestMapping.pathParameters.%s has no {%s} in the path", name, name)
		}
		c.path = strings.ReplaceAll(c.path, ph, url.PathEscape(s))
	}
	if i := strings.IndexByte(c.path, '{'); i >= 0 && strings.IndexByte(c.path[i:], '}') > 0 {
		end := i + strings.IndexByte(c.path[i:], '}')
		return fmt.Errorf("the path placeholder %s has no value in requestMapping.pathParameters", c.path[i:end+1])
	}
	return nil
}

// callAPI evaluates and sends m's request through cl, then evaluates
// responseMapping with the variable response. It returns the mapping's
// result, or true when there is no responseMapping. A non-2xx answer is an
// error.
func (cl *Client) callAPI(ctx context.Context, m *Method, vars map[string]any, st *clientState) (any, error) {
	c, err := callFor(m, m.Request, vars)
	if err != nil {
		return nil, redactedMethodError(m, err, st.redact)
	}
	opts := []RequestOption{WithQuery(c.query)}
	for k, v := range c.headers {
		opts = append(opts, WithHeader(k, v))
	}
	resp, err := cl.send(ctx, c.method, c.path, c.body, opts...)
	if err != nil {
		return nil, err
	}
	if m.Request.response == nil {
		return true, nil
	}
	rv := maps.Clone(vars)
	rv["response"] = responseVariable(resp)
	out, err := m.Request.response.Evaluate(rv)
	if err != nil {
		return nil, redactedMethodError(m, err, st.redact)
	}
	return out, nil
}

// responseVariable is what responseMapping reads as $.response: the fields
// of a JSON object body (integration.app's test example reads
// $.response.id), and data (the whole body), headers (lower-case names) and
// statusCode, as Membrane's rest-api-mapping page names them. Those three
// names win over body fields of the same name; such a field is still
// $.response.data.<name>.
func responseVariable(r *apiResponse) map[string]any {
	out := map[string]any{}
	if obj, ok := r.body.(map[string]any); ok {
		maps.Copy(out, obj)
	}
	headers := make(map[string]any, len(r.header))
	for k, vs := range r.header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	out["data"] = r.body
	out["headers"] = headers
	out["statusCode"] = int64(r.status)
	return out
}
