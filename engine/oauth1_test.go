package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/connspec/connspec/engine/oauth1"
)

// oauth1Provider is a three-legged OAuth 1.0a provider (Trello-like) that
// checks the HMAC-SHA1 signature of every request it gets.
func oauth1Provider(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var verified atomic.Int32
	secrets := map[string]string{"": "", "temp-1": "temp-secret", "tok-1": "tok-secret"}
	srv := httptest.NewServer(nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/authorize" {
			cb := r.URL.Query().Get("oauth_token")
			http.Redirect(w, r, "http://127.0.0.1:8765/callback?oauth_token="+cb+"&oauth_verifier=ver-1", http.StatusFound)
			return
		}
		params := map[string]string{}
		var oauthParams []oauth1.Param
		for _, part := range strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "OAuth "), ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			v, _ = url.PathUnescape(strings.Trim(v, `"`))
			params[k] = v
			if k != "oauth_signature" && k != "realm" {
				oauthParams = append(oauthParams, oauth1.Param{Key: k, Value: v})
			}
		}
		all, err := oauth1.CollectParams(r, oauthParams)
		if err != nil {
			t.Error(err)
		}
		u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		mac := hmac.New(sha1.New, []byte("consumer-secret&"+secrets[params["oauth_token"]]))
		mac.Write([]byte(oauth1.BaseString(r.Method, u, all)))
		if params["oauth_consumer_key"] != "consumer-1" || params["oauth_signature"] != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		verified.Add(1)
		switch r.URL.Path {
		case "/request_token":
			w.Write([]byte("oauth_token=temp-1&oauth_token_secret=temp-secret&oauth_callback_confirmed=true"))
		case "/access_token":
			if params["oauth_verifier"] != "ver-1" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte("oauth_token=tok-1&oauth_token_secret=tok-secret&user_id=42"))
		default:
			r.ParseForm()
			w.Write([]byte(`{"path":"` + r.URL.Path + `","name":"` + r.Form.Get("name") + `"}`))
		}
	})
	t.Cleanup(srv.Close)
	return srv, &verified
}

func TestOAuth1ThreeLeggedFlowAndSignedRequests(t *testing.T) {
	srv, verified := oauth1Provider(t)
	e := newEngine(t, srv, `name: C
auth:
  type: oauth1
  getOAuthConfig:
    mapping:
      consumerKey: {$var: connectorParameters.key}
      consumerSecret: {$var: connectorParameters.secret}
      requestTokenUri: {{URL}}/request_token
      authorizeUri: {{URL}}/authorize
      tokenUri: {{URL}}/access_token
      extra: {name: connspec, expiration: never}
  makeApiClient:
    mapping: {baseUri: "{{URL}}/1"}
`)
	conn := Connection{Connector: "c", ConnectorParameters: map[string]any{"key": "consumer-1", "secret": "consumer-secret"}}
	ctx := context.Background()
	req, err := e.AuthorizationURL(ctx, conn, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(req.URL); u.Query().Get("oauth_token") != "temp-1" || u.Query().Get("expiration") != "never" {
		t.Errorf("authorize URL %s", req.URL)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := resp.Location()
	creds, err := e.CompleteAuthorization(ctx, conn, cb.Query(), redirectURI, req.State, req.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if creds["oauth_token"] != "tok-1" || creds["user_id"] != "42" {
		t.Fatalf("credentials %v", keys(creds))
	}
	conn.Credentials = creds
	cl := mustClient(t, e, conn)
	if got := get(t, cl, "/members/me?fields=id"); got["path"] != "/1/members/me" {
		t.Errorf("signed GET: %v", got)
	}
	form := url.Values{"name": {"To do & more"}}
	r, _ := http.NewRequest(http.MethodPost, "/boards", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = cl.HTTPClient().Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("signed form POST: %v %v", resp, err)
	}
	resp.Body.Close()
	if verified.Load() != 4 {
		t.Errorf("%d requests verified, want 4 (request token, access token, GET, POST)", verified.Load())
	}
}
