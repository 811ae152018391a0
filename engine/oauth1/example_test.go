package oauth1_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/connspec/connspec/engine/oauth1"
)

// The three-legged flow: temporary credentials, the authorization URL, the
// callback and the token credentials, then a signed API request.
func Example() {
	// A stand-in provider that hands out credentials without checking.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		switch r.URL.Path {
		case "/initiate":
			io.WriteString(w, "oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true")
		case "/token":
			io.WriteString(w, "oauth_token=nnch734d00sl2jdk&oauth_token_secret=pfkkdhi9sl3r4s00&screen_name=alice")
		}
	}))
	defer srv.Close()

	cfg, err := oauth1.ConfigFromMap(map[string]any{
		"consumerKey":     "dpf43f3p2l4k3l03",
		"consumerSecret":  "kd94hf93k423kf44",
		"requestTokenUri": srv.URL + "/initiate",
		"authorizeUri":    "https://photos.example.net/authorize",
		"tokenUri":        srv.URL + "/token",
		"extra":           map[string]any{"expiration": "never"},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	temp, err := cfg.RequestToken(ctx, nil, "https://app.example.com/callback")
	if err != nil {
		panic(err)
	}
	authURL, err := cfg.AuthorizationURL(temp)
	if err != nil {
		panic(err)
	}
	fmt.Println(authURL)

	// The provider redirects the user back with the token and a verifier.
	verifier, err := oauth1.ParseCallback(url.Values{
		"oauth_token": {"hh5s93j4hdidpola"}, "oauth_verifier": {"hfdp7dh39dks9884"},
	}, temp)
	if err != nil {
		panic(err)
	}
	tok, err := cfg.AccessToken(ctx, nil, temp, verifier)
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Token, tok.Raw["screen_name"])

	// A refusal is a DeniedError.
	_, err = oauth1.ParseCallback(url.Values{"denied": {"hh5s93j4hdidpola"}}, temp)
	fmt.Println(errors.Is(err, oauth1.ErrDenied), err)
	// Output:
	// https://photos.example.net/authorize?expiration=never&oauth_token=hh5s93j4hdidpola
	// nnch734d00sl2jdk alice
	// true oauth1: authorization denied: denied
}

// Signing the RFC 5849 section 1.2 resource request. Now and Nonce are fixed
// here only to make the output reproducible.
func ExampleConfig_Sign() {
	cfg := oauth1.Config{
		ConsumerKey:    "dpf43f3p2l4k3l03",
		ConsumerSecret: "kd94hf93k423kf44",
		Realm:          "Photos",
		Now:            func() time.Time { return time.Unix(137131202, 0) },
		Nonce:          func() string { return "chapoH" },
	}
	tok := &oauth1.Token{Token: "nnch734d00sl2jdk", Secret: "pfkkdhi9sl3r4s00"}
	req, _ := http.NewRequest("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", nil)
	if err := cfg.Sign(req, tok, nil); err != nil {
		panic(err)
	}
	fmt.Println(req.Header.Get("Authorization"))
	// Output:
	// OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"
}

// The signature base string of RFC 5849 section 3.4.1, with the parameter
// a3 twice.
func ExampleBaseString() {
	u, _ := url.Parse("http://example.com/request")
	fmt.Println(oauth1.BaseString("POST", u, []oauth1.Param{
		{Key: "b5", Value: "=%3D"}, {Key: "a3", Value: "a"}, {Key: "c@", Value: ""}, {Key: "a2", Value: "r b"},
		{Key: "c2", Value: ""}, {Key: "a3", Value: "2 q"},
		{Key: "oauth_consumer_key", Value: "9djdj82h48djs9d2"}, {Key: "oauth_token", Value: "kkk9d7dh3k39sjv7"},
		{Key: "oauth_signature_method", Value: "HMAC-SHA1"}, {Key: "oauth_timestamp", Value: "137131201"},
		{Key: "oauth_nonce", Value: "7d8f3e4a"},
	}))
	// Output:
	// POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7
}
