package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connspec/connspec/engine/jsrt"
)

// maxFetchRedirects bounds the redirects one fetch or axios request follows
// (as browsers and axios do, about 20; fewer is plenty for an auth method).
const maxFetchRedirects = 10

// jsFetch is the HTTP side of a JavaScript method's fetch and axios
// (jsrt.Options.Fetch): raw requests, with no credentials added, sent
// through rt (the connection's wire: the engine's transport, or one
// presenting the connection's TLS client certificate). Every URL,
// redirects included, passes the host policy of the method's auth block
// with the connection input the method was given, so a host an end user
// typed is only reached when it fills a pattern the author wrote. Errors
// have r's secrets redacted.
func (e *Engine) jsFetch(rt http.RoundTripper, hosts *hostPolicy, vars map[string]any, r *redactor) jsrt.HostFunc {
	var input []inputValue
	for _, name := range []string{"connectionInput", "connectionParameters"} {
		if m, ok := vars[name].(map[string]any); ok {
			input = append(input, inputValues(m)...)
		}
	}
	client := &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxFetchRedirects {
				return fmt.Errorf("fetch: stopped after %d redirects", maxFetchRedirects)
			}
			_, err := hosts.checkURL("fetch redirect", req.URL.String(), input, nil)
			return err
		},
	}
	return func(ctx context.Context, args []any) (any, error) {
		out, err := sendFetch(ctx, client, hosts, input, arg(args, 0))
		if err != nil {
			return nil, redactError(err, r)
		}
		return out, nil
	}
}

// sendFetch sends one request as jsrt describes it (Options.Fetch) and
// returns the answer in the same terms.
func sendFetch(ctx context.Context, client *http.Client, hosts *hostPolicy, input []inputValue, x any) (any, error) {
	req, _ := x.(map[string]any)
	method, _ := req["method"].(string)
	raw, _ := req["url"].(string)
	u, err := hosts.checkURL("fetch URL", raw, input, nil)
	if err != nil {
		return nil, err
	}
	if ms := number(req["timeout"]); ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms*float64(time.Millisecond)))
		defer cancel()
	}
	var body io.Reader
	if s, ok := req["body"].(string); ok {
		body = strings.NewReader(s)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", unwrapFetchError(err))
	}
	pairs, _ := req["headers"].([]any)
	for _, p := range pairs {
		kv, _ := p.([]any)
		name, _ := arg(kv, 0).(string)
		value, _ := arg(kv, 1).(string)
		hreq.Header.Add(name, value)
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("fetch %s failed: %w", method, unwrapFetchError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: reading the response: %w", method, err)
	}
	if len(data) > MaxResponseBody {
		return nil, fmt.Errorf("fetch %s: the response body is larger than the limit of %d MiB", method, MaxResponseBody>>20)
	}
	var headers []any
	for name, values := range resp.Header {
		for _, v := range values {
			headers = append(headers, []any{name, v})
		}
	}
	return map[string]any{
		"status":     int64(resp.StatusCode),
		"statusText": strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode))),
		"url":        resp.Request.URL.String(),
		"headers":    headers,
		"body":       string(data),
	}, nil
}

// unwrapFetchError drops the *url.Error around a transport error, which
// quotes the whole URL (a query may carry a secret), keeping its cause (a
// HostError from a redirect, a timeout, ...).
func unwrapFetchError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// number is a JavaScript number converted to Go, 0 for anything else.
func number(x any) float64 {
	switch t := x.(type) {
	case int64:
		return float64(t)
	case float64:
		return t
	}
	return 0
}
