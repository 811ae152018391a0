package engine

import (
	"context"
	"fmt"
	"maps"

	"github.com/connspec/connspec/spec"
)

// HasDisconnect reports whether the connection's auth option defines a
// disconnect method.
func (cl *Client) HasDisconnect() bool { return cl.auth.hasMethod(spec.MethodDisconnect) }

// Disconnect runs the auth option's disconnect method (revoking the token at
// the provider, say): JavaScript with apiClient, a mapping, or a
// rest-api-mapping request that must answer 2xx. Without one it does
// nothing. The stored credentials are left to the caller to delete.
func (cl *Client) Disconnect(ctx context.Context) error {
	m := cl.auth.Methods[spec.MethodDisconnect]
	if m == nil {
		return nil
	}
	st := cl.state.Load()
	vars := cl.vars(maps.Clone(st.credentials))
	var err error
	if m.Request != nil {
		_, err = cl.callAPI(ctx, m, vars, st)
	} else {
		_, err = cl.eng.runMethod(ctx, m, vars, cl, st.redact)
	}
	if err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	return nil
}
