package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/connspec/connspec/engine"
)

// Environment variables of the workspace integration-app-token
// (membrane-token) connectors mint their tokens with.
const (
	envWorkspaceKey    = "CONNSPEC_WORKSPACE_KEY"
	envWorkspaceSecret = "CONNSPEC_WORKSPACE_SECRET"
)

// workspaceFlags name the integration.app / Membrane workspace. The secret
// comes from a file or the environment only: a flag value would show in ps.
type workspaceFlags struct {
	key        string
	secretFile string
}

func (w *workspaceFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&w.key, "workspace-key", "", "integration.app / Membrane workspace `key` integration-app-token and membrane-token connectors sign their tokens for (default: $"+envWorkspaceKey+")")
	fl.StringVar(&w.secretFile, "workspace-secret-file", "", "`file` holding the workspace secret those tokens are signed with (default: $"+envWorkspaceSecret+")")
}

// workspaceHelp names every way to give the workspace, for error messages.
const workspaceHelp = "give the workspace key with --workspace-key or " + envWorkspaceKey +
	" and its secret with --workspace-secret-file or " + envWorkspaceSecret

// option returns the engine option of the workspace, or nil when none was
// given; a key without a secret (or the reverse) is a usage error.
func (w *workspaceFlags) option() (engine.Option, error) {
	key := w.key
	if key == "" {
		key = os.Getenv(envWorkspaceKey)
	}
	secret, err := w.secret()
	if err != nil {
		return nil, err
	}
	switch {
	case key == "" && secret == nil:
		return nil, nil
	case key == "":
		return nil, usageErrorf("a workspace secret was given without its key: %s", workspaceHelp)
	case secret == nil:
		return nil, usageErrorf("the workspace key was given without its secret: %s", workspaceHelp)
	}
	return engine.WithWorkspace(key, secret), nil
}

// secret reads the workspace secret from the file or the environment.
func (w *workspaceFlags) secret() ([]byte, error) {
	if w.secretFile == "" {
		if s := os.Getenv(envWorkspaceSecret); s != "" {
			return []byte(s), nil
		}
		return nil, nil
	}
	data, err := os.ReadFile(w.secretFile)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageErrorf("--workspace-secret-file %s: %v", w.secretFile, err)
	}
	// Editors end files with a newline that is no part of the secret.
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return nil, usageErrorf("--workspace-secret-file %s is empty", w.secretFile)
	}
	return []byte(s), nil
}

// checkWorkspace refuses, before anything is sent, a connection whose
// connector mints integration-app-token tokens when the workspace or the
// account is missing.
func checkWorkspace(c *engine.Connector, option string, haveWorkspace bool, account string) error {
	if !c.NeedsWorkspace(option) {
		return nil
	}
	if !haveWorkspace {
		return errNeedsWorkspace(c)
	}
	if account == "" {
		return usageErrorf("connector %s uses integration-app-token auth, whose token is issued for an account: give its ID with --account", c.Spec.Key)
	}
	return nil
}

func errNeedsWorkspace(c *engine.Connector) error {
	return usageErrorf("connector %s uses integration-app-token auth, whose token is signed with a workspace secret: %s", c.Spec.Key, workspaceHelp)
}

// checkServedWorkspace refuses to serve a connector that mints
// integration-app-token tokens when no workspace was given: every
// connection of it would fail.
func checkServedWorkspace(eng *engine.Engine) error {
	for _, c := range eng.Connectors() {
		options := []string{""}
		if c.Spec.Auth != nil {
			options = append(options, c.Spec.Auth.OptionKeys...)
		}
		for _, option := range options {
			if c.NeedsWorkspace(option) {
				return errNeedsWorkspace(c)
			}
		}
	}
	return nil
}
