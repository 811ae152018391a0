package oauthtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/connspec/connspec/engine/oauth1"
)

// OAuth1 consumer credentials and the tokens the OAuth1Server issues.
const (
	OAuth1ConsumerKey    = "consumer-1"
	OAuth1ConsumerSecret = "consumer-secret"
	OAuth1TempToken      = "temp-1"
	OAuth1Token          = "tok-1"
	OAuth1Verifier       = "ver-1"
)

// OAuth1Server is a three-legged OAuth 1.0a provider (Trello-like) that
// checks the HMAC-SHA1 signature of every request it gets (RFC 5849):
// /request_token, /authorize (approves at once, back to the oauth_callback
// the request token was asked with), /access_token, and any other path as a
// protected resource answering {"path", "name"}.
type OAuth1Server struct {
	*httptest.Server
	verified atomic.Int32
	mu       sync.Mutex
	callback string
}

// NewOAuth1 starts an OAuth1Server and registers t.Cleanup(s.Close).
func NewOAuth1(t testing.TB) *OAuth1Server {
	s := &OAuth1Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(t, w, r) }))
	t.Cleanup(s.Close)
	return s
}

// Verified counts the requests whose signature checked out.
func (s *OAuth1Server) Verified() int { return int(s.verified.Load()) }

func (s *OAuth1Server) serve(t testing.TB, w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/authorize" {
		s.mu.Lock()
		cb := s.callback
		s.mu.Unlock()
		u, err := url.Parse(cb)
		if err != nil || cb == "" || r.URL.Query().Get("oauth_token") != OAuth1TempToken {
			http.Error(w, "unknown request token", http.StatusBadRequest)
			return
		}
		q := u.Query()
		q.Set("oauth_token", OAuth1TempToken)
		q.Set("oauth_verifier", OAuth1Verifier)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	secrets := map[string]string{"": "", OAuth1TempToken: "temp-secret", OAuth1Token: "tok-secret"}
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
	mac := hmac.New(sha1.New, []byte(OAuth1ConsumerSecret+"&"+secrets[params["oauth_token"]]))
	mac.Write([]byte(oauth1.BaseString(r.Method, u, all)))
	if params["oauth_consumer_key"] != OAuth1ConsumerKey || params["oauth_signature"] != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.verified.Add(1)
	switch r.URL.Path {
	case "/request_token":
		s.mu.Lock()
		s.callback = params["oauth_callback"]
		s.mu.Unlock()
		w.Write([]byte("oauth_token=" + OAuth1TempToken + "&oauth_token_secret=temp-secret&oauth_callback_confirmed=true"))
	case "/access_token":
		if params["oauth_verifier"] != OAuth1Verifier {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("oauth_token=" + OAuth1Token + "&oauth_token_secret=tok-secret&user_id=42"))
	default:
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"path":"` + r.URL.Path + `","name":"` + r.Form.Get("name") + `"}`))
	}
}
