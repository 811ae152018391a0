package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// jsProbe runs code as getCredentialsFromConnectionParameters of a
// client-credentials connector (connector parameters and connection input
// as given) and returns the credentials it made, or the error.
func jsProbe(t *testing.T, srv *httptest.Server, extra, code string, params, input map[string]any, opts ...Option) (map[string]any, error) {
	t.Helper()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
`+extra+`  getCredentialsFromConnectionParameters:
    code: |
`+indent(code, "      ")+`  makeApiClient:
    mapping:
      baseUri: {{URL}}
`, opts...)
	cl, err := e.Client(context.Background(), Connection{Connector: "c", ConnectorParameters: params, ConnectionParameters: input})
	if err != nil {
		return nil, err
	}
	return cl.Credentials(), nil
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// tokenAPI is a provider with a login endpoint (JSON or form body, or
// basic auth) and an API that wants the token it hands out.
func tokenAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/login":
			var in struct{ Email, Password string }
			switch {
			case strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
				json.Unmarshal(body, &in)
			case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
				q, _ := url.ParseQuery(string(body))
				in.Email, in.Password = q.Get("email"), q.Get("password")
			default:
				in.Email, in.Password, _ = r.BasicAuth()
			}
			if in.Password != "hunter22" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"invalid_credentials"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "req-7")
			w.Write([]byte(`{"access_token":"tok-` + in.Email + `","expires_in":3600}`))
		case "/me":
			if r.Header.Get("Authorization") != "Bearer tok-ann" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"id":"u1","q":"` + r.URL.RawQuery + `"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A login written with fetch: JSON and form bodies, Headers read
// case-insensitively, .ok/.status/.json()/.text(). fetch behaves as the
// WHATWG Fetch Standard says (https://fetch.spec.whatwg.org/, "Headers
// class", "Response class"); the method is shaped as integration.app's
// JavaScript functions page shows (https://docs.integration.app/docs/javascript,
// "Arguments": one object argument, async default export). No doc example
// with fetch in a connector method was found; the docs' token examples use
// axios (see TestAxiosRefreshCredentialsAsDocumented).
func TestFetchLogin(t *testing.T) {
	srv := tokenAPI(t)
	cases := map[string]string{
		"json": `export default async function ({ connectionParameters }) {
  const res = await fetch('{{URL}}/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: connectionParameters.email, password: connectionParameters.password }),
  })
  if (!res.ok) throw new Error('login failed: ' + res.status)
  const data = await res.json()
  return { accessToken: data.access_token, requestId: res.headers.get('x-REQUEST-id'), status: res.status }
}`,
		"form": `export default async function ({ connectionParameters }) {
  const body = new URLSearchParams({ email: connectionParameters.email, password: connectionParameters.password })
  const res = await fetch(new Request('{{URL}}/login', { method: 'post', body }))
  if (!res.ok) throw new Error('login failed: ' + res.status)
  const data = JSON.parse(await res.text())
  return { accessToken: data.access_token, requestId: res.headers.has('X-Request-Id') ? 'req-7' : 'none', status: res.status }
}`,
	}
	for name, code := range cases {
		t.Run(name, func(t *testing.T) {
			code = strings.ReplaceAll(code, "{{URL}}", srv.URL)
			creds, err := jsProbe(t, srv, "", code, nil, map[string]any{"email": "ann", "password": "hunter22"})
			if err != nil {
				t.Fatal(err)
			}
			if creds["accessToken"] != "tok-ann" || creds["requestId"] != "req-7" || creds["status"] != int64(200) {
				t.Errorf("credentials = %v", creds)
			}
			_, err = jsProbe(t, srv, "", code, nil, map[string]any{"email": "ann", "password": "wrong-canary-pass"})
			if err == nil || !strings.Contains(err.Error(), "login failed: 401") || strings.Contains(err.Error(), "wrong-canary-pass") {
				t.Errorf("bad password: %v", err)
			}
		})
	}
}

// The refreshCredentials example of "Refresh Credentials"
// (https://docs.integration.app/docs/refresh-credentials, Implementation):
// `import axios from 'axios'`, axios.post(url, {}, {auth: {username,
// password}}), response.data?.access_token. Run here with require and with
// the ESM import, on a 401 from the API.
func TestAxiosRefreshCredentialsAsDocumented(t *testing.T) {
	var logins atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/generate-token":
			user, pass, _ := r.BasicAuth()
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || user != "client-1" || pass != "secret-1" || string(body) != "{}" || r.Header.Get("Content-Type") != "application/json" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			logins.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"fresh"}`))
		default:
			if r.Header.Get("Authorization") != "Bearer fresh" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	for name, imp := range map[string]string{"esm": "import axios from 'axios'", "require": "const axios = require('axios')"} {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  refreshCredentials:
    code: |
      `+imp+`
      export default async function refreshToken({ credentials, connectorParameters }) {
        const response = await axios.post('{{URL}}/v1/generate-token', {}, {
          auth: { username: connectorParameters.clientId, password: connectorParameters.clientSecret },
        })
        const accessToken = response.data?.access_token
        if (!accessToken) throw new Error('Failed to get access token')
        return { accessToken }
      }
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.accessToken}]}}
`)
			cl := mustClient(t, e, Connection{
				ConnectorParameters: map[string]any{"clientId": "client-1", "clientSecret": "secret-1"},
				Credentials:         map[string]any{"accessToken": "stale"},
			})
			before := logins.Load()
			if _, err := cl.Get(context.Background(), "/items"); err != nil {
				t.Fatal(err)
			}
			if logins.Load() != before+1 || cl.Credentials()["accessToken"] != "fresh" {
				t.Errorf("logins %d, credentials %v", logins.Load()-before, cl.Credentials())
			}
		})
	}
}

// axios as its documentation describes it (https://axios-http.com/docs/api_intro,
// https://axios-http.com/docs/handling_errors): non-2xx rejects with
// "Request failed with status code N" and error.response {status, data,
// headers}; objects are sent as JSON, URLSearchParams as a form; params,
// baseURL and axios.create apply.
func TestAxiosShapes(t *testing.T) {
	srv := tokenAPI(t)
	code := strings.ReplaceAll(`const axios = require('axios')
export default async function ({ connectionParameters }) {
  const out = {}
  try {
    await axios.post('{{URL}}/login', { email: 'ann', password: 'nope-1234' })
    out.rejected = false
  } catch (e) {
    out.rejected = true
    out.message = e.message
    out.isAxiosError = axios.isAxiosError(e)
    out.status = e.response.status
    out.error = e.response.data.error
    out.contentType = e.response.headers['content-type']
  }
  const form = await axios.post('{{URL}}/login', new URLSearchParams({ email: 'ann', password: 'hunter22' }))
  out.formToken = form.data.access_token
  out.formHeader = form.headers['x-request-id']
  const api = axios.create({ baseURL: '{{URL}}/', headers: { Authorization: 'Bearer ' + form.data.access_token } })
  const me = await api.get('/me', { params: { a: 'x y', list: [1, 2], skip: undefined } })
  out.me = me.data.id
  out.query = me.data.q
  const res = await axios({ url: '{{URL}}/login', method: 'post', data: { email: 'ann', password: 'hunter22' } })
  out.jsonToken = res.data.access_token
  out.statusText = res.statusText
  return out
}`, "{{URL}}", srv.URL)
	creds, err := jsProbe(t, srv, "", code, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"rejected": true, "message": "Request failed with status code 401", "isAxiosError": true, "status": int64(401),
		"error": "invalid_credentials", "contentType": "application/json", "formToken": "tok-ann", "formHeader": "req-7",
		"me": "u1", "query": "a=x+y&list%5B%5D=1&list%5B%5D=2", "jsonToken": "tok-ann", "statusText": "OK",
	}
	for k, v := range want {
		if creds[k] != v {
			t.Errorf("%s = %#v, want %#v", k, creds[k], v)
		}
	}
}

// fetch and axios obey the host policy of every outbound request
// (engine/hostpolicy.go): a host built from connection input must fill a
// pattern the author wrote; input elsewhere in the URL, and hosts the author
// wrote, are fine.
func TestFetchHostFromInput(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		hits.Add(1)
		w.Write([]byte(`{"host":"` + r.Host + `","path":"` + r.URL.Path + `"}`))
	}))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	connectTo := WithConnectTo(ConnectTo{Host: "acme.example.test", Target: target})
	ui := `  ui:
    schema:
      type: object
      properties: {subdomain: {type: string}, host: {type: string}}
`
	refused := []string{
		"export default async ({ connectionInput }) => { await fetch('http://' + connectionInput.host + '/x'); return {} }",
		"const axios = require('axios')\nexport default async ({ connectionInput }) => { await axios.get('http://' + connectionInput.host + '/x'); return {} }",
		"const axios = require('axios')\nexport default async ({ connectionInput }) => { await axios.get('/x', { baseURL: 'http://' + connectionInput.host }); return {} }",
	}
	input := map[string]any{"subdomain": "attacker", "host": "attacker.evil.test"}
	// A redirect from a host the author wrote to one the input names.
	refused = append(refused, "export default async ({ connectionInput }) => { await fetch('"+srv.URL+"/r?to=' + encodeURIComponent('http://' + connectionInput.host + '/x')); return {} }")
	for _, code := range refused {
		_, err := jsProbe(t, srv, ui, code, nil, input, connectTo)
		var he *HostError
		if !errors.As(err, &he) {
			t.Errorf("%s\n  = %v, want a HostError", code, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached a server", hits.Load())
	}
	allowed := []string{
		// The author declares the pattern the input fills.
		"export default async ({ connectionInput }) => { const r = await fetch(`http://${connectionInput.subdomain}.example.test/x`); return { ok: (await r.json()).host === 'acme.example.test' } }",
		// Input in the path, not the host.
		"export default async ({ connectionInput }) => { const r = await fetch('" + srv.URL + "/' + connectionInput.subdomain); return { ok: (await r.json()).path === '/acme' } }",
	}
	for _, code := range allowed {
		creds, err := jsProbe(t, srv, "  allowedHosts: ['*.example.test']\n"+ui, code, nil, map[string]any{"subdomain": "acme"}, connectTo)
		if err != nil || creds["ok"] != true {
			t.Errorf("%s\n  = %v, %v", code, creds, err)
		}
	}
}

// Secrets never show in fetch and axios errors: a connector parameter in
// a URL's query of a request that fails, or in an HTTP error.
func TestFetchErrorsHideSecrets(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	srv := tokenAPI(t)
	params := map[string]any{"apiKey": "canary-key-5f1e"}
	for _, code := range []string{
		"export default async ({ connectorParameters }) => { await fetch('" + deadURL + "/x?key=' + connectorParameters.apiKey); return {} }",
		"const axios = require('axios')\nexport default async ({ connectorParameters }) => { await axios.get('" + deadURL + "/x', { params: { key: connectorParameters.apiKey } }); return {} }",
		"const axios = require('axios')\nexport default async ({ connectorParameters }) => { await axios.get('" + srv.URL + "/nothing?key=' + connectorParameters.apiKey); return {} }",
		"export default async ({ connectorParameters }) => { const r = await fetch('" + srv.URL + "/nothing?key=' + connectorParameters.apiKey); throw new Error('failed at ' + r.url) }",
	} {
		_, err := jsProbe(t, srv, "", code, params, nil)
		if err == nil || strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "5f1e") {
			t.Errorf("%s\n  = %v", code, err)
		}
	}
}

// A response body larger than the engine's body limit (MaxResponseBody) is an
// error naming the limit, never a cut-off body handed to the method.
func TestFetchBodyIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("a", 1<<20))
		for range MaxResponseBody>>20 + 1 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	for _, code := range []string{
		"export default async () => { const r = await fetch('" + srv.URL + "/big'); return { n: (await r.text()).length } }",
		"const axios = require('axios')\nexport default async () => { const r = await axios.get('" + srv.URL + "/big'); return { n: r.data.length } }",
	} {
		_, err := jsProbe(t, srv, "", code, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "larger than the limit of 32 MiB") {
			t.Errorf("%s\n  = %v", code, err)
		}
	}
}
