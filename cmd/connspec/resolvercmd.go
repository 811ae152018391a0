package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/connspec/connspec/engine"
)

// commandResolver runs a shell command as an auth resolver: it receives
// {"integration", "connector", "account": {"id"}} as JSON on standard input
// and prints an AuthResult as JSON ({"type", "token", "additionalFields"});
// empty output or null means unresolved, a non-zero exit is a failure.
func commandResolver(command string) engine.AuthResolver {
	return func(ctx context.Context, run engine.RunContext, in engine.IntegrationInfo) (*engine.AuthResult, error) {
		req := map[string]any{"integration": in.ID, "connector": in.Connector, "forceRefresh": run.ForceRefresh}
		if run.Account != nil {
			req["account"] = map[string]any{"id": run.Account.ID, "metadata": run.Account.Metadata}
		}
		input, _ := json.Marshal(req)
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stdin = bytes.NewReader(input)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if len(msg) > 500 {
				msg = msg[:500] + "..."
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return nil, fmt.Errorf("resolver command exited with status %d: %s", ee.ExitCode(), msg)
			}
			return nil, fmt.Errorf("resolver command: %w", err)
		}
		out := bytes.TrimSpace(stdout.Bytes())
		if len(out) == 0 || string(out) == "null" {
			return nil, nil
		}
		var res struct {
			Type             string            `json:"type"`
			Token            string            `json:"token"`
			AdditionalFields map[string]string `json:"additionalFields"`
			RefreshToken     string            `json:"refreshToken"`
			ExpiresAt        time.Time         `json:"expiresAt"`
			TTL              float64           `json:"ttl"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			// The output holds a token: say what is wrong, not what it is.
			return nil, errors.New("resolver command printed something that is not an AuthResult JSON object")
		}
		return &engine.AuthResult{Type: res.Type, Token: res.Token, AdditionalFields: res.AdditionalFields,
			RefreshToken: res.RefreshToken, ExpiresAt: res.ExpiresAt, TTL: time.Duration(res.TTL * float64(time.Second))}, nil
	}
}
