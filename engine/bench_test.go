package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"github.com/connspec/connspec/spec"
)

// BenchmarkLoadCompileDirectoryTS loads and compiles a directory connector
// whose methods include TypeScript (esbuild transform + goja compile),
// mappings with formulas and JSON Schemas: what `connspec validate` costs per
// connector.
func BenchmarkLoadCompileDirectoryTS(b *testing.B) {
	fsys := os.DirFS(filepath.Join("..", "testdata", "specs", "valid"))
	b.ReportAllocs()
	for b.Loop() {
		c, diags := spec.Load(fsys, "slack")
		if c == nil {
			b.Fatal(diags.Error())
		}
		if _, diags := Compile(c); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}

// The throughput benchmarks compare the engine's client with a bare
// http.Client that sets the same header itself, against one loopback server.
// Compare ns/op and allocs/op of the pairs measured in one run.
func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "sk_bench" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClients(b *testing.B) (engineClient, bare *http.Client, engineURL, bareURL string) {
	srv := benchServer(b)
	e := New()
	src := strings.ReplaceAll(apiKeyHeader, "{{URL}}", srv.URL)
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	cl, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_bench"}})
	if err != nil {
		b.Fatal(err)
	}
	return cl.HTTPClient(), &http.Client{Transport: http.DefaultTransport}, "/users", srv.URL + "/v1/users"
}

func doBench(b *testing.B, c *http.Client, url string, setHeader bool) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if setHeader {
		req.Header.Set("X-Api-Key", "sk_bench")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

func BenchmarkRequest(b *testing.B) {
	engineClient, bare, engineURL, bareURL := benchClients(b)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			doBench(b, bare, bareURL, true)
		}
	})
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			doBench(b, engineClient, engineURL, false)
		}
	})
}

func BenchmarkRequestParallel(b *testing.B) {
	engineClient, bare, engineURL, bareURL := benchClients(b)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				doBench(b, bare, bareURL, true)
			}
		})
	})
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				doBench(b, engineClient, engineURL, false)
			}
		})
	})
}

// BenchmarkClientConstruction measures eng.Client: input validation,
// makeApiClient, configuration parsing.
func BenchmarkClientConstruction(b *testing.B) {
	for _, tc := range []struct{ name, src string }{
		{"mapping", apiKeyHeader},
		{"javascript", `name: C
auth:
  type: client-credentials
  makeApiClient:
    code: |
      export default function ({ credentials }) {
        return { baseUri: 'https://api.example.com/v1', headers: { 'X-Api-Key': credentials.apiKey } }
      }
`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := New()
			src := strings.ReplaceAll(tc.src, "{{URL}}", "https://api.example.com")
			if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			conn := Connection{Connector: "c", ConnectionParameters: map[string]any{"apiKey": "sk_bench"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Client(context.Background(), conn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOAuth2Request compares an engine OAuth2 client holding a valid
// token with golang.org/x/oauth2's Transport and a static token source,
// against one loopback server checking the bearer token.
func BenchmarkOAuth2Request(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-bench" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	b.Cleanup(srv.Close)
	e := New()
	src := strings.NewReplacer("{{URL}}", srv.URL).Replace(`name: C
auth:
  type: oauth2
  getOAuthConfig:
    mapping: {clientId: id, clientSecret: secret, authorizeUri: "{{URL}}/authorize", tokenUri: "{{URL}}/token"}
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`)
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	expires := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	cl, err := e.Client(context.Background(), Connection{Connector: "c", Credentials: map[string]any{"access_token": "tok-bench", "refresh_token": "r", "expires_at": expires}})
	if err != nil {
		b.Fatal(err)
	}
	x := &http.Client{Transport: &xoauth2.Transport{Source: xoauth2.StaticTokenSource(&xoauth2.Token{AccessToken: "tok-bench"})}}
	for _, parallel := range []bool{false, true} {
		for _, c := range []struct {
			name   string
			client *http.Client
			url    string
		}{{"x-oauth2", x, srv.URL + "/data"}, {"engine", cl.HTTPClient(), "/data"}} {
			name := c.name
			if parallel {
				name += "-parallel"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				if !parallel {
					for b.Loop() {
						doBench(b, c.client, c.url, false)
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						doBench(b, c.client, c.url, false)
					}
				})
			})
		}
	}
}

// BenchmarkResolverClient compares a connection whose credentials come from
// an auth resolver (result cached for the account) with one holding stored
// credentials: client construction plus one request.
func BenchmarkResolverClient(b *testing.B) {
	srv := benchServer(b)
	src := strings.ReplaceAll(apiKeyHeader, "{{URL}}", srv.URL)
	for _, mode := range []string{"stored", "resolver"} {
		b.Run(mode, func(b *testing.B) {
			e := New()
			if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			conn := Connection{Connector: "c", Credentials: map[string]any{"apiKey": "sk_bench"}}
			if mode == "resolver" {
				e.DefineAuthResolver("c", func(context.Context, RunContext, IntegrationInfo) (*AuthResult, error) {
					return &AuthResult{Type: "apiKey", Token: "sk_bench", TTL: time.Hour}, nil
				})
				conn = Connection{Connector: "c", Account: &Account{ID: "acct-1"}}
			}
			b.ReportAllocs()
			for b.Loop() {
				cl, err := e.Client(context.Background(), conn)
				if err != nil {
					b.Fatal(err)
				}
				doBench(b, cl.HTTPClient(), "/x", false)
			}
		})
	}
}

// BenchmarkRefreshStorm: 20 connections with expired tokens, 50 goroutines
// each sending a request at once. Every connection must be renewed with
// exactly one token request; the figure reported is token requests per
// connection.
func BenchmarkRefreshStorm(b *testing.B) {
	const connections, goroutines = 20, 50
	var grants, failures int64
	for b.Loop() {
		b.StopTimer()
		_, srv, clients := expiredConnections(b, connections, true)
		b.StartTimer()
		failed := storm(clients, goroutines, "/api/me")
		grants += srv.Grants("refresh_token")
		failures += failed
	}
	perConn := float64(grants) / float64(int64(b.N)*connections)
	b.ReportMetric(perConn, "token-requests/conn")
	if perConn != 1 || failures != 0 {
		b.Fatalf("%v token requests per connection and %d failed requests; want 1 and 0", perConn, failures)
	}
}

// BenchmarkSessionLoginStorm: 20 session-login connections not yet logged
// in, each used by 50 goroutines at once through two engines sharing one
// SQLite store. Every connection must log in exactly once; the figure
// reported is logins per connection.
func BenchmarkSessionLoginStorm(b *testing.B) {
	const connections, goroutines = 20, 50
	var logins, failures int64
	for b.Loop() {
		b.StopTimer()
		stores := faultSQLiteStores(b, 2)
		var servers []*loginServer
		var clients []*Client
		for i := range connections {
			ls := newLoginServer(b)
			servers = append(servers, ls)
			conn := ls.conn()
			conn.ID = "bench-" + strconv.Itoa(i)
			for _, s := range stores {
				clients = append(clients, mustClient(b, newEngine(b, ls.srv, loginConnector, WithStore(s)), conn))
			}
		}
		b.StartTimer()
		failed := storm(clients, goroutines/2, "/me")
		b.StopTimer()
		for _, ls := range servers {
			logins += ls.logins.Load()
			ls.srv.Close()
		}
		failures += failed
		b.StartTimer()
	}
	perConn := float64(logins) / float64(int64(b.N)*connections)
	b.ReportMetric(perConn, "logins/conn")
	if perConn != 1 || failures != 0 {
		b.Fatalf("%v logins per connection and %d failed requests; want 1 and 0", perConn, failures)
	}
}

// BenchmarkAssumeRoleStorm: 20 aws-sigv4 connections with assumeRole
// whose role has not been assumed yet, each used by 50 goroutines at once
// through two engines sharing one SQLite store. Every connection must
// assume its role exactly once; the figure reported is AssumeRole calls
// per connection.
func BenchmarkAssumeRoleStorm(b *testing.B) {
	const connections, goroutines = 20, 50
	var assumes, failures int64
	for b.Loop() {
		b.StopTimer()
		stores := faultSQLiteStores(b, 2)
		clock := newJWTClock()
		f := newFakeAWS(b, clock.now)
		var clients []*Client
		for i := range connections {
			conn := Connection{ID: "bench-" + strconv.Itoa(i), ConnectorParameters: map[string]any{"secret": f.baseSecret}, ConnectionParameters: awsRoleInput()}
			for _, s := range stores {
				e, _ := awsRoleEngine(b, f, clock, WithStore(s))
				clients = append(clients, mustClient(b, e, conn))
			}
		}
		b.StartTimer()
		failed := storm(clients, goroutines/2, "/prod/items")
		b.StopTimer()
		assumes += f.assumes.Load()
		f.check()
		f.srv.Close()
		failures += failed
		b.StartTimer()
	}
	perConn := float64(assumes) / float64(int64(b.N)*connections)
	b.ReportMetric(perConn, "assume-roles/conn")
	if perConn != 1 || failures != 0 {
		b.Fatalf("%v AssumeRole calls per connection and %d failed requests; want 1 and 0", perConn, failures)
	}
}

// BenchmarkValidateLibrary is `connspec validate ./connectors`: load and
// compile every bundled connector; ns/connector is the cost of one.
func BenchmarkValidateLibrary(b *testing.B) {
	n := 0
	for b.Loop() {
		cs, diags := ValidatePath(filepath.Join("..", "connectors"))
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		n = len(cs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/connector")
}

// storm sends perClient concurrent GETs of path through every client at
// once and returns how many failed.
func storm(clients []*Client, perClient int, path string) int64 {
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, cl := range clients {
		for range perClient {
			wg.Go(func() {
				if _, err := cl.Get(context.Background(), path); err != nil {
					failed.Add(1)
				}
			})
		}
	}
	wg.Wait()
	return failed.Load()
}
