package engine

import (
	"context"
	"time"

	xoauth2 "golang.org/x/oauth2"
)

// EnsureFresh renews the credentials now if they are missing or expire
// within the refresh margin (a client credentials token is fetched the
// first time). Requests do this by themselves; call it to obtain credentials
// without sending a request.
func (cl *Client) EnsureFresh(ctx context.Context) error {
	st := cl.state.Load()
	if !cl.needsRefresh(st) {
		return nil
	}
	if err := cl.refresh(ctx, st.version, false); err != nil && !(transientTokenError(err) && cl.usable(st)) {
		return err
	}
	return nil
}

// TokenSource adapts an OAuth 2.0 connection to golang.org/x/oauth2, for
// code that already uses that package. Tokens come from the connection's
// credentials and are renewed the engine's way (single-flight, stored before
// use); the refresh token is not handed out.
func (cl *Client) TokenSource() xoauth2.TokenSource { return tokenSource{cl} }

type tokenSource struct{ cl *Client }

func (ts tokenSource) Token() (*xoauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.cl.EnsureFresh(ctx); err != nil {
		return nil, err
	}
	st := ts.cl.state.Load()
	at, _ := st.credentials["access_token"].(string)
	tt, _ := st.credentials["token_type"].(string)
	return &xoauth2.Token{AccessToken: at, TokenType: tt, Expiry: st.expiresAt}, nil
}
