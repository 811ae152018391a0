package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"makeApiClient", "test", "refreshCredentials", "getOAuthConfig", "oauth2", "oauth1"}
	cases := []struct{ word, want string }{
		{"makeApiClinet", "makeApiClient"}, // transposition
		{"oauth3", "oauth2"},
		{"getOauthConfig", "getOAuthConfig"}, // case only
		{"tset", "test"},
		{"completelyDifferent", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := Closest(c.word, known); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
	if h := Hint("credentails", []string{"credentials", "connectorParameters"}); h != "; did you mean credentials?" {
		t.Errorf("Hint = %q", h)
	}
}
