package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/connspec/connspec/engine/jsrt"
)

// withAPIClient adds apiClient (and its integration.app alias
// externalApiClient) to a JavaScript method's input: get, post, put, patch,
// delete and makeRequest send real requests through the connection's
// authenticated client and resolve to the parsed body.
func withAPIClient(ctx context.Context, vars map[string]any, cl *Client) map[string]any {
	verb := func(method string, hasBody bool) jsrt.HostFunc {
		return func(ctx context.Context, args []any) (any, error) {
			path, _ := arg(args, 0).(string)
			var body any
			var opts []RequestOption
			if hasBody {
				body = arg(args, 1)
			} else if q, ok := arg(args, 1).(map[string]any); ok {
				// get(path, query), or get(path, {query, headers}) as some
				// connectors write it.
				if inner, isOpts := q["query"].(map[string]any); isOpts && len(q) <= 2 {
					q = inner
				}
				values, err := queryValues(q)
				if err != nil {
					return nil, err
				}
				opts = append(opts, WithQuery(values))
			}
			return jsResult(cl.Do(ctx, method, path, body, opts...))
		}
	}
	makeRequest := func(ctx context.Context, args []any) (any, error) {
		method, _ := arg(args, 0).(string)
		path, _ := arg(args, 1).(string)
		o, _ := arg(args, 2).(map[string]any)
		var opts []RequestOption
		if q, ok := o["query"].(map[string]any); ok {
			values, err := queryValues(q)
			if err != nil {
				return nil, err
			}
			opts = append(opts, WithQuery(values))
		}
		if h, ok := o["headers"].(map[string]any); ok {
			for k, v := range h {
				if s, ok := scalarString(v); ok {
					opts = append(opts, WithHeader(k, s))
				}
			}
		}
		return jsResult(cl.Do(ctx, strings.ToUpper(method), path, o["data"], opts...))
	}
	api := map[string]any{
		"get":         verb(http.MethodGet, false),
		"delete":      verb(http.MethodDelete, false),
		"post":        verb(http.MethodPost, true),
		"put":         verb(http.MethodPut, true),
		"patch":       verb(http.MethodPatch, true),
		"makeRequest": jsrt.HostFunc(makeRequest),
	}
	out := maps.Clone(vars)
	out["apiClient"] = api
	out["externalApiClient"] = api
	return out
}

func arg(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// queryValues turns a query object into parameters: scalars as they are, a
// list as a repeated parameter; undefined (nil) values and items are left
// out. An object, or a list inside a list, has no query form: it is an
// error naming the parameter, never dropped.
func queryValues(q map[string]any) (url.Values, error) {
	v := url.Values{}
	for k, x := range q {
		list, isList := x.([]any)
		if !isList {
			list = []any{x}
		}
		for _, item := range list {
			if item == nil {
				continue
			}
			s, ok := scalarString(item)
			if !ok {
				return nil, fmt.Errorf("query parameter %s has %s, which has no query form (strings, numbers, booleans or a list of them)", k, describeValue(item))
			}
			if isList {
				v.Add(k, s)
			} else {
				v.Set(k, s)
			}
		}
	}
	return v, nil
}

// jsResult maps engine errors onto the SDK error classes JavaScript code
// catches: ConnectionError with its key, BadRequestError for other 4xx,
// a plain Error otherwise.
func jsResult(v any, err error) (any, error) {
	if err == nil {
		return v, nil
	}
	var ce *ConnectionError
	var he *HTTPError
	switch {
	case errors.As(err, &ce):
		return nil, &jsrt.Error{Name: "ConnectionError", Message: ce.Error(), Key: ce.Key}
	case errors.As(err, &he) && he.Status == http.StatusUnauthorized:
		return nil, &jsrt.Error{Name: "ConnectionError", Message: he.Error(), Key: KeyAccessTokenExpired, Data: map[string]any{"status": int64(he.Status)}}
	case errors.As(err, &he) && he.Status == http.StatusTooManyRequests:
		return nil, &jsrt.Error{Name: "ConnectionError", Message: he.Error(), Key: KeyRateLimitExceeded, Data: map[string]any{"status": int64(he.Status)}}
	case errors.As(err, &he) && he.Status >= 400 && he.Status < 500:
		return nil, &jsrt.Error{Name: "BadRequestError", Message: he.Error(), Data: map[string]any{"status": int64(he.Status), "data": decodeBody("", he.Body)}}
	case errors.As(err, &he):
		return nil, &jsrt.Error{Name: "DependencyError", Message: he.Error(), Data: map[string]any{"status": int64(he.Status)}}
	}
	return nil, fmt.Errorf("%w", err)
}
