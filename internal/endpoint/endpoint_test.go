package endpoint

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCleanAndScrub(t *testing.T) {
	text := CleanText("bad\x00token \xff" + strings.Repeat("x", 2*MaxText))
	if strings.ContainsRune(text, 0) || len(text) > MaxText+len("…") {
		t.Errorf("CleanText = %q", text)
	}
	if got := Scrub("echo: secret-1 and secret-1", []string{"secret-1", ""}); got != "echo: [redacted] and [redacted]" {
		t.Errorf("Scrub = %q", got)
	}
}

func TestNoRedirectsAndTransportCause(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/", http.StatusFound))
	defer srv.Close()
	base := &http.Client{}
	resp, err := NoRedirects(base).Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusFound || base.CheckRedirect != nil {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	_, err = http.Get("http://127.0.0.1:1/token?client_secret=s3cret")
	if err = TransportCause(err); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("TransportCause = %v", err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		t.Error("the *url.Error wrapper is still there")
	}
}
