package engine

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

func TestOAuth1ThreeLeggedFlowAndSignedRequests(t *testing.T) {
	srv := oauthtest.NewOAuth1(t)
	e := newEngine(t, srv.Server, `name: C
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
	if srv.Verified() != 4 {
		t.Errorf("%d requests verified, want 4 (request token, access token, GET, POST)", srv.Verified())
	}
}
