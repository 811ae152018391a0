package oauth2

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigFromMap(t *testing.T) {
	c, err := ConfigFromMap(map[string]any{
		"clientId":           float64(123456),
		"clientSecret":       "s3cret",
		"authorizeUri":       "https://a.example/authorize",
		"tokenUri":           "https://a.example/token",
		"refreshUri":         "https://a.example/refresh",
		"scopes":             "read, write,,admin",
		"scopeSeparator":     ",",
		"clientAuthLocation": "both",
		"tokenRequestFormat": "json",
		"tokenParams":        map[string]any{"audience": "api", "n": float64(2), "flag": true, "undef": nil},
		"refreshParams":      map[string]string{"scope": "read"},
		"tokenHeaders":       map[string]any{"X-Version": int64(3)},
		"extra":              map[string]any{"access_type": "offline"},
		"skipPkce":           "true",
		"noRefreshToken":     true,
		"grantType":          "authorization_code",
		"defaultExpiresIn":   "3600",
		"refreshMargin":      float64(30),
		"somethingNew":       []any{"ignored"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ClientID: "123456", ClientSecret: "s3cret",
		AuthorizeURI: "https://a.example/authorize", TokenURI: "https://a.example/token", RefreshURI: "https://a.example/refresh",
		Scopes: []string{"read", "write", "admin"}, ScopeSeparator: ",",
		ClientAuthLocation: "both", TokenRequestFormat: "json",
		TokenParams:      map[string]string{"audience": "api", "n": "2", "flag": "true"},
		RefreshParams:    map[string]string{"scope": "read"},
		TokenHeaders:     map[string]string{"X-Version": "3"},
		Extra:            map[string]string{"access_type": "offline"},
		SkipPKCE:         true,
		NoRefreshToken:   true,
		GrantType:        "authorization_code",
		DefaultExpiresIn: time.Hour,
		RefreshMargin:    30 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("ConfigFromMap =\n%#v\nwant\n%#v", c, want)
	}
}

func TestConfigFromMapDefaults(t *testing.T) {
	c, err := ConfigFromMap(map[string]any{
		"tokenUri":  "https://a.example/token",
		"grantType": "client_credentials",
		"scopes":    []any{"a", "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.RefreshMargin != DefaultRefreshMargin || c.DefaultExpiresIn != 0 || c.refreshURI() != c.TokenURI ||
		c.scope() != "a b" || !reflect.DeepEqual(c.Scopes, []string{"a", "b"}) {
		t.Fatalf("defaults not applied: %#v", c)
	}
	c, err = ConfigFromMap(map[string]any{"tokenUri": "https://a.example/token", "authorizeUri": "https://a.example/a", "scopes": "a  b"})
	if err != nil || !reflect.DeepEqual(c.Scopes, []string{"a", "b"}) {
		t.Fatalf("scopes string split on space: %q, %v", c.Scopes, err)
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	base := func(kv ...any) map[string]any {
		m := map[string]any{"tokenUri": "https://a.example/token", "authorizeUri": "https://a.example/a"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := map[string]struct {
		m       map[string]any
		wantKey string
	}{
		"no token uri":          {map[string]any{"authorizeUri": "https://a.example/a"}, "tokenUri"},
		"no authorize uri":      {map[string]any{"tokenUri": "https://a.example/t"}, "authorizeUri"},
		"relative token uri":    {base("tokenUri", "/token"), "tokenUri"},
		"bad refresh uri":       {base("refreshUri", "ftp://x/"), "refreshUri"},
		"auth location":         {base("clientAuthLocation", "query"), "clientAuthLocation"},
		"request format":        {base("tokenRequestFormat", "xml"), "tokenRequestFormat"},
		"grant type":            {base("grantType", "password"), "grantType"},
		"secret object":         {base("clientSecret", map[string]any{"a": "b"}), "clientSecret"},
		"params not object":     {base("tokenParams", "a=b"), "tokenParams"},
		"nested param":          {base("extra", map[string]any{"x": []any{"y"}}), "extra.x"},
		"skipPkce not bool":     {base("skipPkce", "maybe"), "skipPkce"},
		"scopes number":         {base("scopes", float64(3)), "scopes"},
		"scope element object":  {base("scopes", []any{"a", map[string]any{}}), "scopes[1]"},
		"expires not a number":  {base("defaultExpiresIn", "soon"), "defaultExpiresIn"},
		"expires negative":      {base("defaultExpiresIn", float64(-1)), "defaultExpiresIn"},
		"margin bool":           {base("refreshMargin", true), "refreshMargin"},
		"default expires array": {base("defaultExpiresIn", []any{}), "defaultExpiresIn"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ConfigFromMap(tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("err = %v, want one naming %s", err, tc.wantKey)
			}
		})
	}
	_, err := ConfigFromMap(base("clientSecret", []any{"hunter2-secret"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: want an error without the value", err)
	}
	_, err = ConfigFromMap(base("tokenUri", "mailto:x?key=hunter2-secret"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: want an error without the value", err)
	}
}

// TestConfigDPoP: dpop and dpopAlgorithm are read; an algorithm the engine
// cannot make a key for, or one without dpop, is refused by name.
func TestConfigDPoP(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"tokenUri": "https://as.example/token", "grantType": "client_credentials"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	c, err := ConfigFromMap(base(map[string]any{"dpop": true, "dpopAlgorithm": "EdDSA"}))
	if err != nil || !c.DPoP || c.DPoPAlgorithm != "EdDSA" {
		t.Errorf("got %+v, %v", c, err)
	}
	if c, err := ConfigFromMap(base(map[string]any{"dpop": "true"})); err != nil || !c.DPoP || c.DPoPAlgorithm != "" {
		t.Errorf("dpop \"true\": got %+v, %v", c, err)
	}
	for _, extra := range []map[string]any{
		{"dpop": true, "dpopAlgorithm": "HS256"},
		{"dpop": true, "dpopAlgorithm": "none"},
		{"dpop": true, "dpopAlgorithm": "es256"},
		{"dpopAlgorithm": "ES256"},
		{"dpop": "yes"},
	} {
		if _, err := ConfigFromMap(base(extra)); err == nil || !strings.Contains(err.Error(), "dpop") {
			t.Errorf("%v: got %v, want an error naming dpop", extra, err)
		}
	}
}
