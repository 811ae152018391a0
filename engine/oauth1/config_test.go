package oauth1

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestConfigFromMap(t *testing.T) {
	cfg, err := ConfigFromMap(map[string]any{
		"consumerKey":     "ck",
		"consumerSecret":  "cs",
		"requestTokenUri": "https://trello.com/1/OAuthGetRequestToken",
		"authorizeUri":    "https://trello.com/1/OAuthAuthorizeToken",
		"tokenUri":        "https://trello.com/1/OAuthGetAccessToken",
		"scopes":          "read,write, account",
		"scopeSeparator":  ",",
		"extra":           map[string]any{"name": "connspec", "expiration": "never", "n": json.Number("30"), "gone": nil},
		"signatureMethod": "hmac-sha256",
		"realm":           1234567,
		"placement":       "Query",
		"version":         "1.0",
		"unknown":         []any{"ignored"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Scopes, []string{"read", "write", "account"}) || cfg.scope() != "read,write,account" {
		t.Errorf("Scopes %q", cfg.Scopes)
	}
	if cfg.SignatureMethod != HMACSHA256 || cfg.Placement != PlacementQuery || cfg.Realm != "1234567" || cfg.Version != "1.0" {
		t.Errorf("cfg %+v", cfg)
	}
	if len(cfg.Extra) != 3 || cfg.Extra["n"] != "30" || cfg.Extra["expiration"] != "never" {
		t.Errorf("Extra %v", cfg.Extra)
	}

	minimal, err := ConfigFromMap(map[string]any{"consumerKey": "ck", "scopes": []any{"a", nil, " b "}})
	if err != nil {
		t.Fatal(err)
	}
	if minimal.signatureMethod() != HMACSHA1 || minimal.placement() != PlacementHeader || minimal.scope() != "a b" {
		t.Errorf("defaults %+v", minimal)
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	cases := map[string]struct {
		m   map[string]any
		key string
	}{
		"no consumer key":  {map[string]any{"consumerSecret": "x"}, "consumerKey"},
		"key not a string": {map[string]any{"consumerKey": map[string]any{}}, "consumerKey"},
		"bad method":       {map[string]any{"consumerKey": "ck", "signatureMethod": "HMAC-MD5"}, "signatureMethod"},
		"bad placement":    {map[string]any{"consumerKey": "ck", "placement": "cookie"}, "placement"},
		"bad version":      {map[string]any{"consumerKey": "ck", "version": "2.0"}, "version"},
		"relative uri":     {map[string]any{"consumerKey": "ck", "tokenUri": "/token"}, "tokenUri"},
		"ftp uri":          {map[string]any{"consumerKey": "ck", "requestTokenUri": "ftp://x.example/"}, "requestTokenUri"},
		"bad authorize":    {map[string]any{"consumerKey": "ck", "authorizeUri": "https://"}, "authorizeUri"},
		"extra array":      {map[string]any{"consumerKey": "ck", "extra": []any{"a"}}, "extra"},
		"extra nested":     {map[string]any{"consumerKey": "ck", "extra": map[string]any{"a": map[string]any{}}}, "extra.a"},
		"scopes object":    {map[string]any{"consumerKey": "ck", "scopes": map[string]any{}}, "scopes"},
		"scope element":    {map[string]any{"consumerKey": "ck", "scopes": []any{[]any{}}}, "scopes[0]"},
		"realm newline":    {map[string]any{"consumerKey": "ck", "realm": "a\r\nX-Evil: 1"}, "realm"},
		"rsa without key":  {map[string]any{"consumerKey": "ck", "signatureMethod": "RSA-SHA1"}, "privateKey"},
		"rsa garbage key":  {map[string]any{"consumerKey": "ck", "signatureMethod": "RSA-SHA1", "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"}, "privateKey"},
	}
	for name, tc := range cases {
		_, err := ConfigFromMap(tc.m)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %q does not name %s", name, err, tc.key)
		}
	}
}
