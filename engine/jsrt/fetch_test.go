package jsrt

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// echoFetch answers every request with the request itself as JSON.
func echoFetch(requests *[]map[string]any) HostFunc {
	return func(ctx context.Context, args []any) (any, error) {
		req, _ := args[0].(map[string]any)
		*requests = append(*requests, req)
		return map[string]any{
			"status": int64(200), "statusText": "OK", "url": req["url"],
			"headers": []any{[]any{"Content-Type", "application/json"}, []any{"Set-Thing", "a"}, []any{"set-thing", "b"}},
			"body":    `{"ok":true}`,
		}, nil
	}
}

// What fetch and axios cannot send as written is a TypeError naming it,
// before any request: a plain object as a fetch body (the WHATWG Fetch
// Standard would send "[object Object]", https://fetch.spec.whatwg.org/#bodyinit-unions),
// fetch and axios options this sandbox does not implement, FormData.
func TestFetchRefusesWhatItCannotSend(t *testing.T) {
	cases := map[string]string{
		"object body":     "export default () => fetch('https://a.test/', { method: 'POST', body: { a: 1 } })",
		"number body":     "export default () => fetch('https://a.test/', { method: 'POST', body: 42 })",
		"GET with body":   "export default () => fetch('https://a.test/', { body: 'x' })",
		"fetch signal":    "export default () => fetch('https://a.test/', { signal: null })",
		"manual redirect": "export default () => fetch('https://a.test/', { redirect: 'manual' })",
		"axios option":    "import axios from 'axios'\nexport default () => axios.get('https://a.test/', { maxRedirects: 0 })",
		"axios transform": "import axios from 'axios'\nexport default () => axios({ url: 'https://a.test/', transformRequest: [] })",
		"axios blob":      "import axios from 'axios'\nexport default () => axios.get('https://a.test/', { responseType: 'blob' })",
		"axios number":    "import axios from 'axios'\nexport default () => axios.post('https://a.test/', 42)",
		"axios nested form": "import axios from 'axios'\nexport default () => axios.post('https://a.test/', { a: { b: 1 } }, " +
			"{ headers: { 'content-type': 'application/x-www-form-urlencoded' } })",
		"axios object param": "import axios from 'axios'\nexport default () => axios.get('https://a.test/', { params: { a: { b: 1 } } })",
		"FormData":           "export default () => fetch('https://a.test/', { method: 'POST', body: new FormData() })",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			var reqs []map[string]any
			_, err := mustCompile(t, "m.js", src).Call(context.Background(), nil, Options{Fetch: echoFetch(&reqs)})
			var je *Error
			if !errors.As(err, &je) || (je.Name != "TypeError" && je.Name != "ReferenceError") || len(reqs) != 0 {
				t.Errorf("= %v (%d requests), want a TypeError before any request", err, len(reqs))
			}
		})
	}
}

// Without Options.Fetch there is no HTTP: fetch and axios reject.
func TestFetchWithoutHook(t *testing.T) {
	for _, src := range []string{
		"export default () => fetch('https://a.test/')",
		"import axios from 'axios'\nexport default () => axios.get('https://a.test/')",
	} {
		_, err := mustCompile(t, "m.js", src).Call(context.Background(), nil)
		var je *Error
		if !errors.As(err, &je) || je.Name != "TypeError" || !strings.Contains(err.Error(), "no HTTP is available") {
			t.Errorf("%s = %v", src, err)
		}
	}
}

// The request the hook gets and the Response/Headers the method sees
// (WHATWG Fetch: https://fetch.spec.whatwg.org/#headers-class, combined
// values of one name joined with ", ").
func TestFetchRequestAndResponseShapes(t *testing.T) {
	src := `import axios from 'axios'
export default async () => {
  const r = await fetch('https://a.test/x', { method: 'put', headers: [['X-A', '1'], ['x-a', '2']], body: 'hi' })
  const h = []
  r.headers.forEach((v, k) => h.push(k + '=' + v))
  const api = axios.create({ baseURL: 'https://b.test/v1/', headers: { 'X-Default': 'd' } })
  const a = await api.patch('items/7', { n: 1 }, { params: { q: 'x' }, auth: { username: 'ü', password: 'p' } })
  return { ok: r.ok, status: r.status, ct: r.headers.get('CONTENT-TYPE'), h, json: await r.json(), used: r.bodyUsed, data: a.data, thing: a.headers['set-thing'] }
}`
	modes(t, func(t *testing.T, o Options) {
		var reqs []map[string]any
		o.Fetch = echoFetch(&reqs)
		got, err := mustCompile(t, "m.js", src).Call(context.Background(), nil, o)
		if err != nil {
			t.Fatal(err)
		}
		m := got.(map[string]any)
		if m["ok"] != true || m["status"] != int64(200) || m["ct"] != "application/json" || m["used"] != true ||
			m["json"].(map[string]any)["ok"] != true || m["data"].(map[string]any)["ok"] != true || m["thing"] != "a, b" {
			t.Errorf("result = %v", m)
		}
		if h := m["h"].([]any); len(h) != 2 || h[0] != "content-type=application/json" || h[1] != "set-thing=a, b" {
			t.Errorf("headers = %v", h)
		}
		if len(reqs) != 2 {
			t.Fatalf("%d requests", len(reqs))
		}
		if r := reqs[0]; r["method"] != "PUT" || r["url"] != "https://a.test/x" || r["body"] != "hi" || !hasPair(r["headers"], "x-a", "1, 2") {
			t.Errorf("fetch request = %v", r)
		}
		r := reqs[1]
		if r["method"] != "PATCH" || r["url"] != "https://b.test/v1/items/7?q=x" || r["body"] != `{"n":1}` ||
			!hasPair(r["headers"], "Content-Type", "application/json") || !hasPair(r["headers"], "X-Default", "d") ||
			!hasPair(r["headers"], "Authorization", "Basic w7w6cA==") {
			t.Errorf("axios request = %v", r)
		}
	})
}

func hasPair(headers any, name, value string) bool {
	list, _ := headers.([]any)
	for _, p := range list {
		if kv, _ := p.([]any); len(kv) == 2 && kv[0] == name && kv[1] == value {
			return true
		}
	}
	return false
}

// A response body is one string to the method: longer than
// Options.MaxStringLength it is refused, as any other string would be.
func TestFetchBodyWithinStringBudget(t *testing.T) {
	big := func(ctx context.Context, args []any) (any, error) {
		return map[string]any{"status": int64(200), "statusText": "OK", "url": "https://a.test/", "headers": []any{}, "body": strings.Repeat("a", 2000)}, nil
	}
	for _, src := range []string{
		"export default async () => (await fetch('https://a.test/')).text()",
		"import axios from 'axios'\nexport default async () => (await axios.get('https://a.test/')).data",
	} {
		_, err := mustCompile(t, "m.js", src).Call(context.Background(), nil, Options{MaxStringLength: 1000, Fetch: big})
		if !errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), "response body of 2000 bytes exceeds the limit of 1000") {
			t.Errorf("%s = %v", src, err)
		}
	}
}

// axios's headers.common and headers[method] (the shape of axios defaults,
// https://axios-http.com/docs/config_defaults) apply; a header that is an
// object otherwise is refused, not dropped.
func TestAxiosHeaderShapes(t *testing.T) {
	var reqs []map[string]any
	src := `import axios from 'axios'
export default async () => {
  await axios.post('https://a.test/', 'x', { headers: { common: { 'X-C': 'c' }, post: { 'X-P': 'p' }, get: { 'X-G': 'g' }, 'X-A': 'a' } })
  try { await axios.get('https://a.test/', { headers: { 'X-Bad': { a: 1 } } }); return 'sent' } catch (e) { return e.name + ': ' + e.message }
}`
	got, err := mustCompile(t, "m.js", src).Call(context.Background(), nil, Options{Fetch: echoFetch(&reqs)})
	if err != nil || got != `TypeError: axios: the header "X-Bad" is an object, not a string` {
		t.Errorf("= %v, %v", got, err)
	}
	if len(reqs) != 1 || !hasPair(reqs[0]["headers"], "X-C", "c") || !hasPair(reqs[0]["headers"], "X-P", "p") ||
		!hasPair(reqs[0]["headers"], "X-A", "a") || hasPair(reqs[0]["headers"], "X-G", "g") {
		t.Errorf("requests = %v", reqs)
	}
}
