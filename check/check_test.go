package check

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestFixturesPassAndMismatchesPointAtTheirLine(t *testing.T) {
	results, diags := Path(context.Background(), filepath.Join("..", "testdata", "check"))
	if len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	byKey := map[string]ConnectorResults{}
	for _, r := range results {
		byKey[r.Key] = r
	}
	gh := byKey["github"]
	if len(gh.Results) != 1 || !gh.Results[0].OK() {
		t.Fatalf("github fixture (authorize, token exchange, call, test, refresh) must pass: %+v", gh.Results)
	}
	st := byKey["stripe"]
	if len(st.Results) != 1 || st.Results[0].OK() {
		t.Fatalf("stripe fixture expects a different Stripe-Version and must fail: %+v", st.Results)
	}
	all := strings.Join(st.Results[0].Problems, "\n")
	want := filepath.Join("..", "testdata", "check", "stripe-mismatch", "fixtures.yml") + ":5: unexpected request GET https://api.stripe.com/v1/balance: closest is this entry, but header Stripe-Version differs"
	if !strings.Contains(all, want) {
		t.Errorf("problems:\n%s\nwant a line containing\n%s", all, want)
	}
	if strings.Contains(all, "sk_test_fixture123") {
		t.Error("a credential appears in the report")
	}
}
