package main

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/connspec/connspec/engine"
)

func newConnectCommand() *cobra.Command {
	var f connectFlags
	var port int
	var noBrowser, device, qr bool
	var out string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "connect PATH [flags]",
		Short: "Authorize an OAuth 2.0 connection in the browser and print its credentials",
		Long: `Connect runs the OAuth 2.0 authorization code flow (with PKCE) for a
connector: it listens on 127.0.0.1 for the callback (redirect URI
http://127.0.0.1:PORT/callback), prints the authorization URL as the first
line of standard output, opens the browser unless --no-browser, exchanges the
code, runs the connector's test if it has one, and writes the credentials JSON
to --out (mode 0600) or standard output. For grantType client_credentials (or
the RFC 8693 token exchange grant) it fetches the token directly.

With --device it runs the device authorization grant (RFC 8628) instead, for
connectors whose getOAuthConfig gives deviceAuthorizationUri: it prints the
verification URI and the user code on standard error, waits while the user
approves on any device (polling the token endpoint at the provider's interval),
then writes the credentials as above. No callback server is started.

When the connector gives no clientId and the authorization server offers
dynamic client registration (RFC 7591), as MCP servers often do, connect
registers a client first. The tokens are issued to that client, so it is kept,
secret included, sealed in the store serve uses (--db, --key-file; default the
SQLite file and secret key in the user's config directory), where later
connect, test and request runs find it to refresh; the credentials file names
it but never holds its secret. The store is opened only when a connection
registers or uses such a client.

Exit status: 0 connected (and the test passed), 1 failed, 2 usage.`,
		Args: cobra.ExactArgs(1),
		Example: `  # authorize GitHub in the browser and keep the credentials
  connspec connect github --param clientId=ID --param clientSecret=SECRET --out creds.json

  # authorize from a terminal without a browser (device flow)
  connspec connect acme --device --param clientId=ID --out creds.json

  # an MCP server with nothing registered in advance
  connspec connect mcp --input url=https://mcp.example.com/mcp --out creds.json

  # then use them
  connspec request github GET /user --param clientId=ID --param clientSecret=SECRET --credentials creds.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			eng, conn, err := f.prepare(args[0], cmd.ErrOrStderr())
			defer f.close()
			if err != nil {
				return err
			}
			var creds map[string]any
			if device {
				creds, err = authorizeDevice(ctx, eng, conn, f.rules, qr || isTerminal(cmd.ErrOrStderr()), cmd)
			} else {
				creds, err = authorize(ctx, eng, conn, port, noBrowser, f.rules, cmd)
			}
			if err != nil {
				return &exitError{code: exitProblems, err: err}
			}
			conn.Credentials = creds
			cl, err := eng.Client(ctx, conn)
			if err != nil {
				return &exitError{code: exitProblems, err: err}
			}
			testErr := cl.Test(ctx)
			if err := writeCredentials(cmd, out, cl.Credentials()); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if testErr != nil {
				return &exitError{code: exitProblems, err: errors.New(cl.Redact(testErr.Error()))}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&port, "port", 0, "callback port on 127.0.0.1 (default: a free port)")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "do not open a browser; follow the printed URL yourself")
	cmd.Flags().BoolVar(&device, "device", false, "use the device authorization grant: show a code to enter on another device instead of a browser callback")
	cmd.Flags().BoolVar(&qr, "qr", false, "with --device, draw the verification link as a QR code on standard error (the default when it is a terminal)")
	cmd.Flags().StringVar(&out, "out", "", "write the credentials JSON to this `file` (mode 0600) instead of standard output")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the authorization to complete")
	return cmd
}

// authorize obtains credentials: the client credentials grant directly, or
// the authorization code flow through a loopback callback server.
func authorize(ctx context.Context, eng *engine.Engine, conn engine.Connection, port int, noBrowser bool, rules []engine.ConnectTo, cmd *cobra.Command) (map[string]any, error) {
	if cl, err := eng.Client(ctx, conn); err == nil {
		// Client credentials need no user step (and other types with input
		// only, such as API keys, are complete already).
		if err := cl.EnsureFresh(ctx); err != nil {
			return nil, err
		}
		return cl.Credentials(), nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("callback server: %w", err)
	}
	redirect := fmt.Sprintf("http://%s/callback", ln.Addr())
	req, err := eng.AuthorizationURL(ctx, conn, redirect)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The browser goes where --connect-to sends the authorize page's host.
	authURL := engine.RewriteURL(rules, req.URL)
	fmt.Fprintln(cmd.OutOrStdout(), authURL)
	if !noBrowser {
		openBrowser(authURL)
	}
	type result struct {
		creds map[string]any
		err   error
	}
	done := make(chan result, 1)
	var taken atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		// Any page the browser visits can send it to this port: a callback
		// of another flow (or a forged one) is answered and ignored, and
		// the flow waits for its own.
		if !callbackOf(r.URL.Query(), req.State) {
			fmt.Fprintln(cmd.ErrOrStderr(), "ignored a callback whose state does not match this authorization; still waiting")
			plainError(w, http.StatusBadRequest, "This callback does not belong to the authorization in progress (its state is wrong or missing). It was ignored.")
			return
		}
		if taken.Swap(true) {
			plainError(w, http.StatusConflict, "This authorization has been completed already.")
			return
		}
		creds, err := eng.CompleteAuthorization(r.Context(), conn, r.URL.Query(), redirect, req.State, req.Verifier)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<h1>Connection failed</h1><p>%s</p>", html.EscapeString(err.Error()))
		} else {
			fmt.Fprint(w, "<h1>Connected</h1><p>You can close this window and return to the terminal.</p>")
		}
		select {
		case done <- result{creds, err}:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Let the callback's answer reach the browser before closing.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	select {
	case res := <-done:
		return res.creds, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no callback before the timeout: %w", ctx.Err())
	}
}

// authorizeDevice obtains credentials with the device authorization grant:
// the user code and verification URI go to standard error (standard output
// stays for the credentials), the device code nowhere.
func authorizeDevice(ctx context.Context, eng *engine.Engine, conn engine.Connection, rules []engine.ConnectTo, qr bool, cmd *cobra.Command) (map[string]any, error) {
	da, err := eng.StartDeviceAuthorization(ctx, conn)
	if err != nil {
		return nil, err
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "To connect, open %s and enter the code: %s\n", engine.RewriteURL(rules, da.VerificationURI), da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s)\n", engine.RewriteURL(rules, da.VerificationURIComplete))
	}
	if link := cmp.Or(da.VerificationURIComplete, da.VerificationURI); qr && len(link) <= maxQRLink {
		qrterminal.GenerateHalfBlock(engine.RewriteURL(rules, link), qrterminal.L, w)
	}
	fmt.Fprintf(w, "Waiting for approval (the code expires at %s)...\n", da.ExpiresAt.Local().Format(time.Kitchen))
	return eng.CompleteDeviceAuthorization(ctx, conn, da)
}

// maxQRLink is the longest link drawn as a QR code: a longer one would not
// fit a terminal (or a phone camera's patience).
const maxQRLink = 300

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// callbackOf reports whether a callback answers the authorization with
// this state: OAuth 2.0 returns it as state, OAuth 1.0a names the temporary
// token in oauth_token (or in denied, when the user refused).
func callbackOf(q url.Values, state string) bool {
	for _, key := range []string{"state", "oauth_token", "denied"} {
		if got := q.Get(key); got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(state)) == 1 {
			return true
		}
	}
	return false
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

func writeCredentials(cmd *cobra.Command, out string, creds map[string]any) error {
	if out != "" {
		return writeJSONFile(out, creds)
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(creds)
}

func openBrowser(url string) {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		c = exec.Command("xdg-open", url)
	}
	_ = c.Start() // the URL is printed too
}
