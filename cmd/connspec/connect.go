package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// connectFlags are the flags that describe a connection, shared by
// `connspec test` and `connspec request`.
type connectFlags struct {
	option      string
	params      []string
	paramsFile  string
	inputs      []string
	inputFile   string
	credentials string
	verbose     bool
	account     string
	resolverCmd string
	connectTo   []string
	// connectToRemote allows --connect-to targets off this machine.
	connectToRemote bool
	// rules are the parsed --connect-to rules.
	rules []engine.ConnectTo
	// verboseTo is the --verbose transport; it learns the client to redact with.
	verboseTo *verboseTransport
	workspace workspaceFlags
	// registrations name the store of registered clients; regs is it,
	// opened lazily (registrations.go).
	registrations registrationFlags
	regs          *lazyStore
}

func (f *connectFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.option, "option", "", "auth option key (when the connector has several ways to connect)")
	fl.StringArrayVar(&f.params, "param", nil, "connector parameter `key=value` (repeatable), e.g. clientId")
	fl.StringVar(&f.paramsFile, "params-file", "", "JSON `file` of connector parameters")
	fl.StringArrayVar(&f.inputs, "input", nil, "connection input `key=value` (repeatable), what a user types, e.g. apiKey")
	fl.StringVar(&f.inputFile, "input-file", "", "JSON `file` of connection input")
	fl.StringVar(&f.credentials, "credentials", "", "JSON `file` of credentials; rewritten (mode 0600) when a refresh changes them")
	fl.BoolVar(&f.verbose, "verbose", false, "print request and response lines to stderr, credentials redacted")
	fl.StringVar(&f.account, "account", "", "account `ID` the connection is for (passed to the auth resolver; the sub of integration-app-token tokens)")
	fl.StringArrayVar(&f.connectTo, "connect-to", nil, "send requests for a connector host elsewhere, `HOST=URL` (repeatable), e.g. api.example.com=http://127.0.0.1:8080: try a connector against a local mock without editing it")
	fl.BoolVar(&f.connectToRemote, "connect-to-remote", false, "allow --connect-to targets that are not on this machine (they receive real credentials)")
	f.workspace.register(fl)
	f.registrations.register(fl)
	fl.StringVar(&f.resolverCmd, "resolver-cmd", "", "auth resolver `command`: gets {integration, connector, account} JSON on stdin, prints {type, token, additionalFields} JSON")
}

// verboseTransport prints each request and response line, redacted by the
// client it serves.
type verboseTransport struct {
	base   http.RoundTripper
	out    io.Writer
	client *engine.Client
}

func (t *verboseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	redact := func(s string) string { return s }
	if t.client != nil {
		redact = t.client.Redact
	}
	fmt.Fprintf(t.out, "> %s %s\n", req.Method, redact(req.URL.String()))
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(t.out, "> %s: %s\n", k, redactHeader(k, v, redact))
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		fmt.Fprintf(t.out, "< error: %s\n", redact(err.Error()))
		return nil, err
	}
	fmt.Fprintf(t.out, "< %s %s\n", resp.Proto, resp.Status)
	return resp, nil
}

// redactHeader hides credential values, and Authorization entirely: its
// value may be derived from a secret in a form the redactor cannot know.
func redactHeader(key, value string, redact func(string) string) string {
	if strings.EqualFold(key, "Authorization") || strings.EqualFold(key, "Proxy-Authorization") {
		if scheme, _, ok := strings.Cut(value, " "); ok {
			return scheme + " [REDACTED]"
		}
		return "[REDACTED]"
	}
	return redact(value)
}

// connect loads the connector at path (a file, a folder, or the key of a
// bundled connector) and returns an authenticated client for the
// connection the flags describe.
func (f *connectFlags) connect(ctx context.Context, path string, stderr io.Writer) (*engine.Client, error) {
	eng, conn, err := f.prepare(path, stderr)
	if err != nil {
		return nil, err
	}
	cl, err := eng.Client(ctx, conn)
	if err != nil {
		return nil, &exitError{code: exitProblems, err: err}
	}
	f.verboseTo.client = cl
	return cl, nil
}

// close releases what prepare opened.
func (f *connectFlags) close() { f.regs.close() }

// prepare loads the connector and describes the connection.
func (f *connectFlags) prepare(path string, stderr io.Writer) (*engine.Engine, engine.Connection, error) {
	conn := engine.Connection{Option: f.option}
	var err error
	if conn.ConnectorParameters, err = keyValues(f.params, f.paramsFile); err != nil {
		return nil, conn, err
	}
	if conn.ConnectionParameters, err = keyValues(f.inputs, f.inputFile); err != nil {
		return nil, conn, err
	}
	if f.credentials != "" {
		if conn.Credentials, err = readJSONObject(f.credentials); err != nil {
			return nil, conn, err
		}
	}
	vt := &verboseTransport{base: http.DefaultTransport, out: stderr}
	f.verboseTo = vt
	f.regs = &lazyStore{flags: f.registrations, stderr: stderr}
	opts := []engine.Option{engine.WithLogger(slog.New(slog.DiscardHandler)), engine.WithRegistrationStore(f.regs)}
	for _, rule := range f.connectTo {
		r, err := engine.ParseConnectTo(rule, f.connectToRemote)
		if err != nil {
			return nil, conn, usageErrorf("--%v", err)
		}
		f.rules = append(f.rules, r)
	}
	if len(f.rules) > 0 {
		opts = append(opts, engine.WithConnectTo(f.rules...))
	}
	if f.verbose {
		opts = append(opts, engine.WithTransport(vt))
	}
	workspace, err := f.workspace.option()
	if err != nil {
		return nil, conn, err
	}
	if workspace != nil {
		opts = append(opts, workspace)
	}
	if f.credentials != "" {
		file := f.credentials
		opts = append(opts, engine.WithCredentialsHook(func(_ context.Context, c engine.CredentialsChange) error {
			if c.Reason != "refresh" && c.Reason != "retry" {
				return nil
			}
			return writeJSONFile(file, c.Connection.Credentials)
		}))
	}
	eng := engine.New(opts...)
	c, diags, err := loadConnector(eng, path)
	if err != nil {
		return nil, conn, err
	}
	if diags.HasErrors() {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		return nil, conn, &exitError{code: exitProblems, err: errors.New("the connector has errors")}
	}
	conn.Connector = c.Spec.Key
	if err := checkWorkspace(c, f.option, workspace != nil, f.account); err != nil {
		return nil, conn, err
	}
	// key=value text becomes what the schemas say (isSandbox=true a boolean).
	params, _ := c.ParameterSchemas(f.option)
	inputs, err := c.InputSchemas(f.option)
	if err != nil {
		return nil, conn, usageErrorf("%v", err)
	}
	if err := spec.CoerceStrings(conn.ConnectorParameters, pairKeys(f.params), params...); err != nil {
		return nil, conn, usageErrorf("--param %v", err)
	}
	if err := spec.CoerceStrings(conn.ConnectionParameters, pairKeys(f.inputs), inputs...); err != nil {
		return nil, conn, usageErrorf("--input %v", err)
	}
	if f.account != "" {
		conn.Account = &engine.Account{ID: f.account}
	}
	if f.resolverCmd != "" {
		eng.DefineAuthResolver(c.Spec.Key, commandResolver(f.resolverCmd))
	}
	return eng, conn, nil
}

func loadConnector(eng *engine.Engine, path string) (*engine.Connector, spec.Diagnostics, error) {
	arg, err := resolveConnectorArg(path)
	if err != nil {
		return nil, nil, err
	}
	c, diags := arg.load(eng)
	return c, diags, nil
}

// pairKeys lists the keys of key=value pairs.
func pairKeys(pairs []string) []string {
	keys := make([]string, 0, len(pairs))
	for _, p := range pairs {
		k, _, _ := strings.Cut(p, "=")
		keys = append(keys, k)
	}
	return keys
}

// keyValues merges a JSON file and key=value pairs (pairs win).
func keyValues(pairs []string, file string) (map[string]any, error) {
	out := map[string]any{}
	if file != "" {
		m, err := readJSONObject(file)
		if err != nil {
			return nil, err
		}
		out = m
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			// Not quoted: "apiKey:sk_live_..." would show the key.
			return nil, usageErrorf("a --param or --input value is not key=value (its text is not shown, it may hold a secret)")
		}
		out[k] = v
	}
	return out, nil
}

func readJSONObject(file string) (map[string]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		// The cause only: the path is said once (and a nil cause never
		// reaches the text).
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageErrorf("%s: %v", file, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		// The file may hold secrets: say what is wrong, never what it holds.
		return nil, usageErrorf("%s: not a JSON object", file)
	}
	return m, nil
}

// writeJSONFile replaces file atomically with mode 0600.
func writeJSONFile(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
