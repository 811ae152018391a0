package engine

import "context"

// client-credentials: API keys, Basic auth and other credentials typed by
// the user. Everything it does is BaseSession's: credentials from the input
// (or getCredentialsFromConnectionParameters), renewed only by the
// connector's refreshCredentials, applied by makeApiClient's configuration.
func init() {
	RegisterKind("client-credentials", KindFunc(func(context.Context, *Client) (Session, error) {
		return BaseSession{}, nil
	}))
}
