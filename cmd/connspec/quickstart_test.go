//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The README's quickstart is run as written: its marked blocks are parsed
// from README.md, so the test and the README cannot drift. A block marked
// `<!-- quickstart: run -->` runs in bash and must succeed, one marked
// `<!-- quickstart: serve -->` runs in the background until the test ends,
// and `<!-- quickstart: connect page -->` is where the reader fills the
// connect page, which the test does as a browser would. `connspec` on the
// PATH is this test binary (TestQuickstartHelperProcess), given
// --connect-to so the API's host reaches a loopback stand-in, and --addr so
// serve takes a free port instead of 8080.

const (
	quickstartDefaultAddr = "127.0.0.1:8080" // what the README's curl commands use
	quickstartAPIHost     = "api.stripe.com"
	quickstartKey         = "sk_test_QuickstartCanary4eC39HqLyjWDarjt"
)

// quickstartStep is one marked place in the README.
type quickstartStep struct {
	kind   string // run, serve or connect page
	script string
}

var quickstartMarker = regexp.MustCompile("(?m)^<!-- quickstart: ([a-z ]+) -->\n(?:```sh\n((?s:.*?))```\n)?")

func readQuickstart(t *testing.T) (readme string, steps []quickstartStep) {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range quickstartMarker.FindAllStringSubmatch(string(data), -1) {
		step := quickstartStep{kind: m[1], script: m[2]}
		switch {
		case step.kind == "connect page" && step.script == "":
		case (step.kind == "run" || step.kind == "serve" || step.kind == "not run") && step.script != "":
		default:
			t.Fatalf("README.md: quickstart marker %q must precede a ```sh block for run, serve and not run, and none for connect page", m[0])
		}
		if step.kind != "not run" {
			steps = append(steps, step)
		}
	}
	if len(steps) == 0 {
		t.Fatal("README.md has no <!-- quickstart: ... --> blocks")
	}
	checkEveryBlockMarked(t, string(data))
	return string(data), steps
}

// checkEveryBlockMarked refuses a code block in the Quickstart section
// without a marker: a step added there must say whether the test runs it.
func checkEveryBlockMarked(t *testing.T, readme string) {
	t.Helper()
	start := strings.Index(readme, "\n## Quickstart\n")
	if start < 0 {
		t.Fatal("README.md has no ## Quickstart section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	lines := strings.Split(section, "\n")
	inside := false
	for i, line := range lines {
		if !strings.HasPrefix(line, "```") {
			continue
		}
		if !inside && (i == 0 || !strings.HasPrefix(lines[i-1], "<!-- quickstart: ")) {
			t.Errorf("README.md Quickstart: the block %q has no <!-- quickstart: run|serve|not run --> marker", strings.Join(lines[i:min(i+2, len(lines))], "\n"))
		}
		inside = !inside
	}
}

// TestQuickstartHelperProcess is the connspec binary of the quickstart: it
// runs only when TestQuickstart starts this test binary as a command.
func TestQuickstartHelperProcess(t *testing.T) {
	if os.Getenv("CONNSPEC_QUICKSTART_CLI") != "1" {
		t.Skip("runs only as the quickstart's connspec command")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

func TestQuickstart(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("the quickstart's commands need bash")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CONNSPEC_REQUIRE_CURL") != "" {
			t.Fatal("curl is missing and CONNSPEC_REQUIRE_CURL is set")
		}
		t.Skip("the quickstart's commands need curl")
	}
	readme, steps := readQuickstart(t)
	checkInstallLine(t, readme)
	if def := newServeCommand().Flags().Lookup("addr").DefValue; def != quickstartDefaultAddr {
		t.Fatalf("serve listens on %s by default, the README's quickstart says %s", def, quickstartDefaultAddr)
	}

	var apiCalls atomic.Int64
	api := newQuickstartAPI(t, &apiCalls)
	q := newQuickstartEnv(t, api.URL)
	var outputs []string
	for i, step := range steps {
		script := strings.ReplaceAll(step.script, quickstartDefaultAddr, q.addr)
		switch step.kind {
		case "run":
			out := q.run(t, i, script)
			outputs = append(outputs, out)
		case "serve":
			q.serve(t, script)
		case "connect page":
			q.fillConnectPage(t, outputs)
		}
	}

	all := strings.Join(outputs, "\n")
	for _, want := range []string{
		"1 valid connector; 0 errors, 0 warnings", // validate
		"ok\n",                                   // test
		`"object":"balance"`,                     // request, and the proxied request
		`"url": "http://` + q.addr + `/connect/`, // the connect link
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the quickstart's output lacks %q:\n%s", want, all)
		}
	}
	if n := strings.Count(all, `"object":"balance"`); n != 2 {
		t.Errorf("want the balance from request and from the proxy, got it %d times:\n%s", n, all)
	}
	if strings.Contains(all, quickstartKey) {
		t.Errorf("the quickstart's output shows the key:\n%s", all)
	}
	// test, request, the connect page's test and the proxied request.
	if n := apiCalls.Load(); n != 4 {
		t.Errorf("the stand-in API answered %d authenticated requests, want 4", n)
	}
}

// checkInstallLine checks the README installs this module's command.
func checkInstallLine(t *testing.T, readme string) {
	t.Helper()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module (\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	install := "go install " + string(m[1]) + "/cmd/connspec@latest"
	if !strings.Contains(readme, install) {
		t.Errorf("README.md does not say %q", install)
	}
}

// newQuickstartAPI stands in for Stripe's balance endpoint: Basic auth with
// the key as user name.
func newQuickstartAPI(t *testing.T, calls *atomic.Int64) *httptest.Server {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, ok := r.BasicAuth()
		if !ok || user != quickstartKey || r.URL.Path != "/v1/balance" || r.Host != quickstartAPIHost {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error": {"message": "Invalid API Key provided"}}`)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"balance","available":[{"amount":0,"currency":"usd"}],"livemode":false}`)
	}))
	t.Cleanup(api.Close)
	return api
}

// quickstartEnv is the reader's machine: a home directory, a working
// directory carried from one block to the next, and connspec on the PATH.
type quickstartEnv struct {
	dir, addr string
	env       []string
}

func newQuickstartEnv(t *testing.T, apiURL string) *quickstartEnv {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{bin, filepath.Join(dir, "home"), filepath.Join(dir, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := `#!/bin/sh
case "$1" in
test|request) set -- "$@" --connect-to "$QS_CONNECT_TO" ;;
serve) set -- "$@" --connect-to "$QS_CONNECT_TO" --addr "$QS_ADDR" ;;
esac
exec "$QS_TESTBIN" -test.run='^TestQuickstartHelperProcess$' -- "$@"
`
	if err := os.WriteFile(filepath.Join(bin, "connspec"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	q := &quickstartEnv{dir: dir, addr: freeLoopbackAddr(t)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONNSPEC_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "PATH=") {
			q.env = append(q.env, kv)
		}
	}
	q.env = append(q.env,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "home", ".config"),
		"STRIPE_KEY="+quickstartKey,
		"CONNSPEC_QUICKSTART_CLI=1",
		"QS_TESTBIN="+self,
		"QS_ADDR="+q.addr,
		"QS_CONNECT_TO="+quickstartAPIHost+"="+apiURL,
	)
	if err := os.WriteFile(q.pwdFile(), []byte(filepath.Join(dir, "work")), 0o644); err != nil {
		t.Fatal(err)
	}
	return q
}

func (q *quickstartEnv) pwdFile() string { return filepath.Join(q.dir, "pwd") }

// command runs script in bash in the directory the last block ended in,
// recording the directory this one ends in.
func (q *quickstartEnv) command(ctx context.Context, t *testing.T, script string) *exec.Cmd {
	t.Helper()
	wd, err := os.ReadFile(q.pwdFile())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script+"\npwd > "+q.pwdFile())
	cmd.Dir = strings.TrimSpace(string(wd))
	cmd.Env = q.env
	return cmd
}

func (q *quickstartEnv) run(t *testing.T, n int, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := q.command(ctx, t, script).CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart block %d failed (%v):\n%s\noutput:\n%s", n+1, err, script, out)
	}
	return string(out)
}

// serve starts the block in the background and waits until it answers.
func (q *quickstartEnv) serve(t *testing.T, script string) {
	t.Helper()
	cmd := q.command(context.Background(), t, script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the quickstart's serve exited (%v):\n%s", err, logs)
		default:
		}
		if resp, err := http.Get("http://" + q.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quickstart's serve did not answer /healthz within 15s:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	connectURL    = regexp.MustCompile(`"url": "(http://[^"]+/connect/[^"]+)"`)
	formAction    = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenInput   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	passwordInput = regexp.MustCompile(`<input type="password" name="(f_[^"]+)"`)
)

// fillConnectPage does what the reader does in the browser: opens the last
// connect link printed, types the key into the form and submits it.
func (q *quickstartEnv) fillConnectPage(t *testing.T, outputs []string) {
	t.Helper()
	var link string
	for _, out := range outputs {
		if m := connectURL.FindAllStringSubmatch(out, -1); m != nil {
			link = m[len(m)-1][1]
		}
	}
	if link == "" {
		t.Fatalf("no connect link was printed before the connect page step:\n%s", strings.Join(outputs, "\n"))
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	page := browse(t, browser, http.MethodGet, link, nil)
	action := formAction.FindStringSubmatch(page)
	secrets := passwordInput.FindAllStringSubmatch(page, -1)
	if action == nil || len(secrets) != 1 {
		t.Fatalf("the connect page has no form with one secret field:\n%s", page)
	}
	form := url.Values{secrets[0][1]: {quickstartKey}}
	for _, h := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(h[1], h[2])
	}
	target, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	target, err = target.Parse(action[1])
	if err != nil {
		t.Fatal(err)
	}
	result := browse(t, browser, http.MethodPost, target.String(), form)
	if !strings.Contains(result, "Connected to Stripe") {
		t.Fatalf("the connect page did not say Connected to Stripe:\n%s", result)
	}
}

// browse sends a request as a browser would for a same-origin page.
func browse(t *testing.T, c *http.Client, method, link string, form url.Values) string {
	t.Helper()
	req, err := http.NewRequest(method, link, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s\n%s", method, link, resp.Status, body)
	}
	return string(body)
}

func freeLoopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
