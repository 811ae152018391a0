package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/pflag"

	"github.com/connspec/connspec/engine/store"
)

// The CLI keeps connections' credentials in files (--credentials, --out),
// but an OAuth client the engine registered dynamically (RFC 7591: an MCP
// server, or any getOAuthConfig without clientId) must outlast the run:
// the tokens in the file were issued to that client, and a later `connspec
// request` or `test` refreshes them with it. The registration, client
// secret included, is kept sealed in the same store serve uses (--db,
// --key-file; default the SQLite file and key in the user's config
// directory), never in the credentials file. The store is opened only when
// a registration is read or written, so other connectors leave no files.

// registrationFlags name the store of registered clients.
type registrationFlags struct{ db, keyFile string }

func (f *registrationFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.db, "db", "", "store of dynamically registered OAuth clients (RFC 7591), opened only when a connection registers or uses one: sqlite:`PATH` or postgres://... (default: sqlite in the user's config directory, as serve)")
	fl.StringVar(&f.keyFile, "key-file", "", "secret key `file` sealing that store when CONNSPEC_SECRET_KEY is unset (default: secret.key in the user's config directory, as serve)")
}

// lazyStore opens the registration store on first use.
type lazyStore struct {
	flags  registrationFlags
	stderr io.Writer

	mu      sync.Mutex
	st      store.Store
	closeFn func()
	err     error
}

func (l *lazyStore) open(ctx context.Context) (store.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st != nil || l.err != nil {
		return l.st, l.err
	}
	dir := configDir()
	cipher, err := loadCipher(l.flags.keyFile, dir)
	if err == nil {
		var st store.Store
		st, l.closeFn, err = openStore(ctx, l.flags.db, dir, cipher)
		l.st = st
	}
	if err != nil {
		l.err = fmt.Errorf("the store of registered OAuth clients (--db, --key-file): %w", err)
	}
	return l.st, l.err
}

func (l *lazyStore) Get(ctx context.Context, id string) (store.Record, error) {
	st, err := l.open(ctx)
	if err != nil {
		return store.Record{}, err
	}
	return st.Get(ctx, id)
}

func (l *lazyStore) CompareAndSwap(ctx context.Context, id string, expected int64, credentials map[string]any) (int64, error) {
	st, err := l.open(ctx)
	if err != nil {
		return 0, err
	}
	v, err := st.CompareAndSwap(ctx, id, expected, credentials)
	if err == nil && l.stderr != nil {
		fmt.Fprintf(l.stderr, "registered an OAuth client with the authorization server; kept it (sealed) in %s for later runs\n", storeLocation(l.flags.db, configDir()))
	}
	return v, err
}

func (l *lazyStore) SetState(ctx context.Context, id string, state store.State) error {
	st, err := l.open(ctx)
	if err != nil {
		return err
	}
	return st.SetState(ctx, id, state)
}

// Lock serialises registration across processes when the store can.
func (l *lazyStore) Lock(ctx context.Context, id string) (func(), error) {
	st, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	if locker, ok := st.(store.Locker); ok {
		return locker.Lock(ctx, id)
	}
	return func() {}, nil
}

// close closes the store if it was opened.
func (l *lazyStore) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closeFn != nil {
		l.closeFn()
		l.closeFn = nil
	}
}
