package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A logo or support link the connect page could not show safely stops the
// start, naming the value, whether it came from a flag or the environment.
func TestServeRefusesBadBrandingLinks(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", "k-branding")
	t.Setenv("CONNSPEC_SECRET_KEY", "")
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--app-logo-url", "javascript:alert(1)"}, nil, `app logo URL must be an absolute http(s) URL, not "javascript:alert(1)"`},
		{[]string{"--app-logo-url", "/logo.png"}, nil, "app logo URL"},
		{nil, map[string]string{envSupportURL: "ftp://help.example"}, `support URL must be an absolute http(s) URL or a mailto: link, not "ftp://help.example"`},
		{nil, map[string]string{envAppLogoURL: "data:image/png;base64,AAAA"}, "app logo URL"},
		{[]string{"--app-logo-url", "https://cdn:canary-pw-77@logo.example/x.png"}, nil, "app logo URL must not carry user information"},
		{nil, map[string]string{envSupportURL: "https://help:canary-pw-77@help.example"}, "support URL must not carry user information"},
	}
	for _, tc := range cases {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		dir := t.TempDir()
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "db"), "--key-file", filepath.Join(dir, "key")}, tc.args...)
		var stderr bytes.Buffer
		code := run(args, io.Discard, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v %v: exit %d: %s", tc.args, tc.env, code, stderr.String())
		}
		if strings.Contains(stderr.String(), "canary-pw-77") {
			t.Errorf("the refusal shows the password: %s", stderr.String())
		}
		for k := range tc.env {
			t.Setenv(k, "")
		}
	}
}

func TestBrandingFlagsDefaultToTheEnvironment(t *testing.T) {
	t.Setenv(envAppName, "Env App")
	t.Setenv(envSupportURL, "mailto:help@example.com")
	b := brandingFlags{appName: "Flag App"}
	got := b.branding()
	if got.AppName != "Flag App" || got.SupportURL != "mailto:help@example.com" || got.AppLogoURL != "" {
		t.Errorf("%+v", got)
	}
}

// serve names, at start, the bundled connectors that cannot connect anybody
// until their required connector parameters are configured.
func TestServeWarnsAboutUnconfiguredBundledConnectors(t *testing.T) {
	t.Setenv("CONNSPEC_API_KEY", "k-branding")
	t.Setenv("CONNSPEC_SECRET_KEY", "")
	dir := t.TempDir()
	f := serveFlags{addr: "127.0.0.1:0", db: "sqlite:" + filepath.Join(dir, "db"), keyFile: filepath.Join(dir, "key"),
		logFormat: "text", logLevel: "info", shutdownTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	if err := runServe(ctx, f, &logs, func(string) { cancel() }); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`connector=github missing="clientId, clientSecret"`, "level=WARN"} {
		if !strings.Contains(out, want) {
			t.Errorf("the start logs do not say %q:\n%s", want, out)
		}
	}
}
