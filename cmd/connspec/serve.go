package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/connectors"
	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
	"github.com/connspec/connspec/spec"
	"go.opentelemetry.io/otel/trace"
)

type serveFlags struct {
	addr            string
	db              string
	connectorsDir   string
	publicURL       string
	paramsFile      string
	keyFile         string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	insecureNoKey   bool
	connectTo       []string
	connectToRemote bool
	// allowPrivateNetworks lets user-chosen MCP servers be on private
	// addresses (development only).
	allowPrivateNetworks bool
	// tracing is off or otlp (servetracing.go).
	tracing   string
	workspace workspaceFlags
	branding  brandingFlags
	webhooks  webhookFlags
	renewal   renewalFlags
}

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the connect page, the admin API and the auth proxy",
		Long: `serve runs connspec as a service: end users connect their accounts on a
connect page, credentials are kept encrypted and fresh, and other services
call APIs through the proxy (/v1/proxy/{connection}/{path}) without seeing
a token.

The admin API and the proxy need a bearer key: CONNSPEC_API_KEY (an admin
key), API keys stored in the database (connspec keys create), or both.
Without CONNSPEC_API_KEY the stored keys are the only way in, and serve
refuses to start when there is none, unless --insecure-no-key is given,
which is for local development only: it listens on a loopback address, answers only
requests addressed to localhost or a loopback IP, and refuses cross-site
browser requests. Credentials are sealed with
the key in CONNSPEC_SECRET_KEY (base64 of 32 bytes), or with a key file made
on first use; servers sharing a PostgreSQL database must share that key.`,
		Args: cobra.NoArgs,
		Example: `  # local development: the bundled connectors, no admin key, loopback only
  connspec serve --insecure-no-key

  # production: an admin key, PostgreSQL, OAuth app credentials, the public address
  CONNSPEC_API_KEY=... CONNSPEC_SECRET_KEY=... connspec serve --addr :8080 \
    --db postgres://connspec@db/connspec --params-file params.yml --public-url https://connect.example.com`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return runServe(ctx, f, cmd.ErrOrStderr(), nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`address` to listen on")
	fl.StringVar(&f.db, "db", "", "store: sqlite:`PATH` or postgres://... (default: sqlite in the user's config directory)")
	fl.StringVar(&f.connectorsDir, "connectors", "", "`directory` of connectors to serve (default: the bundled library)")
	fl.StringVar(&f.publicURL, "public-url", "", "`URL` end users reach this server at (default: http://ADDR)")
	fl.StringVar(&f.paramsFile, "params-file", "", "JSON or YAML `file` of connector parameters by connector key: {github: {clientId: ..., clientSecret: ...}}")
	fl.StringVar(&f.keyFile, "key-file", "", "secret key `file` when CONNSPEC_SECRET_KEY is unset (default: secret.key in the user's config directory)")
	fl.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringArrayVar(&f.connectTo, "connect-to", nil, "development: send requests for a connector host elsewhere, `HOST=URL` (repeatable), the authorize page included")
	fl.BoolVar(&f.connectToRemote, "connect-to-remote", false, "allow --connect-to targets that are not on this machine (they receive real credentials)")
	fl.BoolVar(&f.allowPrivateNetworks, "allow-private-networks", false, "let end users connect MCP servers (protectedResource) on loopback, private and link-local addresses (development only: it opens the server's network to them)")
	fl.BoolVar(&f.insecureNoKey, "insecure-no-key", false, "serve the admin API and the proxy without CONNSPEC_API_KEY (local development: loopback address and Host only)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to let in-flight requests finish on SIGTERM")
	fl.StringVar(&f.tracing, "tracing", "", "OpenTelemetry tracing of proxy requests, renewals and method runs, with W3C traceparent sent to the APIs: off or otlp, the exporter set by the standard OTEL_EXPORTER_OTLP_* variables (default: CONNSPEC_TRACING, else off)")
	f.workspace.register(fl)
	f.branding.register(fl)
	f.webhooks.register(fl)
	f.renewal.register(fl)
	return cmd
}

// runServe serves until ctx ends, then shuts down gracefully. ready, when
// not nil, is told the listening address (for tests).
func runServe(ctx context.Context, f serveFlags, logOut io.Writer, ready func(addr string)) error {
	logger, err := newLogger(f.logFormat, f.logLevel, logOut)
	if err != nil {
		return err
	}
	apiKey := os.Getenv("CONNSPEC_API_KEY")
	if apiKey == "" && f.insecureNoKey {
		if err := server.CheckAddr(f.addr, apiKey); err != nil {
			return usageErrorf("%v", err)
		}
	}
	dir := configDir()
	cipher, err := loadCipher(f.keyFile, dir)
	if err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, f.db, dir, cipher)
	if err != nil {
		return err
	}
	defer closeStore()
	// Without CONNSPEC_API_KEY, the keys in the store are the only way in;
	// with none, the server would be locked (or, worse, taken for open).
	storedKeysOnly := apiKey == "" && !f.insecureNoKey
	if storedKeysOnly {
		active, err := activeAPIKeys(ctx, st)
		if err != nil {
			return err
		}
		if active == 0 {
			return usageErrorf("refusing to serve the admin API and the proxy without a key: set CONNSPEC_API_KEY, or create a key in serve's database first (connspec keys create --db ... --name admin --scope admin; the stored keys are then the only way in), or, for local development on a loopback address, pass --insecure-no-key")
		}
		logger.Info("CONNSPEC_API_KEY is not set: only the API keys stored in the database are accepted", "active_keys", active)
	}
	params, err := readParams(f.paramsFile)
	if err != nil {
		return usageErrorf("%v", err)
	}

	metrics := server.NewMetrics()
	// Many proxy requests go to the same few API hosts: keep more idle
	// connections per host than net/http's default of two.
	upstream := http.DefaultTransport.(*http.Transport).Clone()
	upstream.MaxIdleConnsPerHost = 64
	var rules []engine.ConnectTo
	for _, rule := range f.connectTo {
		r, err := engine.ParseConnectTo(rule, f.connectToRemote)
		if err != nil {
			return usageErrorf("--%v", err)
		}
		rules = append(rules, r)
	}
	opts := []engine.Option{engine.WithStore(st), engine.WithLogger(logger), engine.WithRefreshHook(metrics.RefreshHook()), engine.WithTransport(upstream), engine.WithConnectTo(rules...)}
	opts = append(opts, mcpServeOptions(f)...)
	if f.renewal.renew {
		if err := f.renewal.check(); err != nil {
			return usageErrorf("%v", err)
		}
	}
	limits, err := f.renewal.inactivityLimits()
	if err != nil {
		return usageErrorf("%v", err)
	}
	opts = append(opts, engine.WithInactivityLimits(limits))
	if f.tracing == "" {
		f.tracing = os.Getenv("CONNSPEC_TRACING")
	}
	tp, err := newTracerProvider(ctx, f.tracing)
	if err != nil {
		return err
	}
	var tracer trace.TracerProvider // nil: off
	if tp != nil {
		defer func() {
			// Flush the spans still batched, within the shutdown timeout.
			sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("tracing: spans not exported at shutdown", "error", err.Error())
			}
		}()
		tracer = tp
		opts = append(opts, engine.WithTracerProvider(tp))
	}
	workspace, err := f.workspace.option()
	if err != nil {
		return err
	}
	if workspace != nil {
		opts = append(opts, workspace)
	}
	eng := engine.New(opts...)
	n, err := loadConnectors(eng, f.connectorsDir)
	if err != nil {
		return err
	}
	if workspace == nil {
		if err := checkServedWorkspace(eng); err != nil {
			return err
		}
	}
	// Events are delivered until the server has stopped: those its last
	// requests wrote go out too, or are left for another server.
	hooksCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHooks()
	if err := f.webhooks.start(hooksCtx, st, logger, metrics); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if f.publicURL == "" {
		f.publicURL = "http://" + ln.Addr().String()
	}
	srv, err := server.New(server.Config{Engine: eng, Store: st, Cipher: cipher, APIKey: apiKey, InsecureNoKey: apiKey == "" && f.insecureNoKey, StoredKeysOnly: storedKeysOnly, PublicURL: f.publicURL,
		ConnectorParameters: params, Logger: logger, Metrics: metrics, ConnectTo: rules, Branding: f.branding.branding(), TracerProvider: tracer})
	if err != nil {
		ln.Close()
		return usageErrorf("%v", err)
	}
	hs := &http.Server{Handler: withClientMetadata(srv.Handler(), f.publicURL), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("serving", "addr", ln.Addr().String(), "public_url", f.publicURL, "connectors", n, "store", storeKind(f.db),
		"store_location", storeLocation(f.db, dir), "secret_key", keyLocation(f.keyFile, dir), "api_key", apiKey != "", "tracing", tp != nil)
	if ready != nil {
		ready(ln.Addr().String())
	}
	// Stopped when serve returns: no new renewals, those under way finish.
	rctx, stopRenewal := context.WithCancel(ctx)
	renewalStopped := f.renewal.start(rctx, eng, params, logger)
	defer renewalStopped()
	defer stopRenewal()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", f.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.Close() // stops the connect page's device flows
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// configDir is where serve keeps its SQLite file and key file by default.
func configDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "connspec")
}

// loadCipher makes the cipher of the store: the current key
// (CONNSPEC_SECRET_KEY or the key file) and the old keys being rotated out.
func loadCipher(keyFile, dir string) (*store.Cipher, error) {
	key, err := store.LoadKey(keyFilePath(keyFile, dir))
	if err != nil {
		return nil, usageErrorf("secret key: %v", err)
	}
	old, err := store.OldKeys()
	if err != nil {
		return nil, usageErrorf("old secret keys: %v", err)
	}
	cipher, err := store.NewCipher(key, old...)
	if err != nil {
		return nil, usageErrorf("secret key: %v", err)
	}
	return cipher, nil
}

func newRekeyCommand() *cobra.Command {
	var db, keyFile string
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Re-seal every stored secret with the current key (key rotation)",
		Long: `rekey finishes a key rotation: with the new key in CONNSPEC_SECRET_KEY and the
old one in CONNSPEC_OLD_SECRET_KEYS, it re-seals every stored credential and
connection input with the new key. Running servers may keep serving
meanwhile (started with the same two variables); afterwards the old key can
be dropped. See docs/serve.md.`,
		Args: cobra.NoArgs,
		Example: `  # after starting the servers with the new key and the old one
  CONNSPEC_SECRET_KEY=NEW CONNSPEC_OLD_SECRET_KEYS=OLD connspec rekey --db postgres://connspec@db/connspec`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := configDir()
			cipher, err := loadCipher(keyFile, dir)
			if err != nil {
				return err
			}
			st, closeStore, err := openStore(cmd.Context(), db, dir, cipher)
			if err != nil {
				return err
			}
			defer closeStore()
			rk, ok := st.(interface {
				Rekey(context.Context) (int, error)
			})
			if !ok {
				return usageErrorf("this store cannot be re-keyed")
			}
			n, err := rk.Rekey(cmd.Context())
			if err != nil {
				return fmt.Errorf("rekey stopped after %d values: %w", n, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-sealed %d values with the current key\n", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "store: sqlite:`PATH` or postgres://... (default: sqlite in the user's config directory)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "secret key `file` when CONNSPEC_SECRET_KEY is unset")
	return cmd
}

func newLogger(format, level string, out io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(out, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(out, opts)), nil
	}
	return nil, usageErrorf("--log-format must be json or text, not %q", format)
}

func storeKind(db string) string {
	if strings.HasPrefix(db, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

// openStore opens the store --db names, with its migrations applied.
func openStore(ctx context.Context, db, dir string, cipher *store.Cipher) (server.Store, func(), error) {
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		pg, err := store.OpenPostgres(ctx, db, cipher)
		if err != nil {
			// pgx errors can quote the URL, password included: say less.
			return nil, nil, usageErrorf("cannot open the PostgreSQL store (check --db and that the server runs)")
		}
		return pg, pg.Close, nil
	case db == "" || strings.HasPrefix(db, "sqlite:"):
		path := sqlitePath(db, dir)
		if db == "" || db == "sqlite:" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, nil, err
			}
		}
		sq, err := store.OpenSQLite(path, cipher)
		if err != nil {
			return nil, nil, usageErrorf("cannot open the SQLite store %s: %v", path, err)
		}
		return sq, func() { sq.Close() }, nil
	}
	return nil, nil, usageErrorf("--db must be sqlite:PATH or postgres://..., not %q", redactDSN(db))
}

// redactDSN hides a password in a database URL.
func redactDSN(db string) string {
	if i := strings.Index(db, "@"); i >= 0 {
		if j := strings.Index(db, "://"); j >= 0 && j < i {
			return db[:j+3] + "…@" + db[i+1:]
		}
	}
	return db
}

// readParams reads connector parameters by connector key.
func readParams(path string) (map[string]map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out map[string]map[string]any
	if strings.HasSuffix(path, ".json") {
		err = json.Unmarshal(data, &out)
	} else {
		err = yaml.Unmarshal(data, &out)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: must map connector keys to objects of parameters", path)
	}
	return out, nil
}

// loadConnectors registers the connectors of dir (or the bundled library)
// and returns how many; a connector with errors stops the start.
func loadConnectors(eng *engine.Engine, dir string) (int, error) {
	var diags spec.Diagnostics
	n := 0
	if dir == "" {
		paths, ds := spec.Discover(connectors.FS(), ".")
		diags = append(diags, ds...)
		for _, p := range paths {
			if c, ds := eng.LoadFS(connectors.FS(), p); c != nil {
				n++
			} else {
				diags = append(diags, ds...)
			}
		}
	} else {
		paths, ds := spec.DiscoverPath(dir)
		diags = append(diags, ds...)
		for _, p := range paths {
			if c, ds := eng.Load(p); c != nil {
				n++
			} else {
				diags = append(diags, ds...)
			}
		}
	}
	if diags.HasErrors() {
		return n, &exitError{code: exitProblems, err: errors.New("connectors have errors:\n" + diags.Sort().Error())}
	}
	if n == 0 {
		return 0, usageErrorf("no connectors found in %s", dir)
	}
	return n, nil
}
