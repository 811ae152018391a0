package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/connspec/connspec/engine/oauth2"
)

// SubjectTokenCredentialsKey is where an auth resolver's "subjectToken"
// result goes in the credentials: a token exchange connector maps it with
// subjectToken: {$var: credentials.subject_token}. An application that
// stores the user's IdP token with the connection uses the same key by
// convention (any key works for stored credentials).
const SubjectTokenCredentialsKey = "subject_token"

// The token exchange grant (RFC 8693) takes its subject token from the
// connection input, the connector parameters or the connection's
// credentials. getOAuthConfig receives the credentials as the variable
// credentials, and it is evaluated again before every exchange with the
// credentials current then, so a subject token the application rotated in
// the store is the one sent next. The exchanged token's credentials keep
// the subject (and actor) token: a token response cannot overwrite them.

// openOAuthConfig evaluates getOAuthConfig when a client opens, with the
// credentials the connection was given. When its credentials are not known
// yet (stored ones, read when the client starts, or a resolver's), a token
// exchange config is accepted without its subject (and actor) token: every
// exchange evaluates the config again and refuses to send without one.
// Otherwise a missing subject token is refused here.
func openOAuthConfig(ctx context.Context, cl *Client) (oauth2.Config, registrationUse, error) {
	conn := cl.conn
	conn.Credentials = cl.startCredentials
	_, _, _, resolver, _ := cl.eng.target(cl.info.ID)
	if resolver != nil || conn.ID != "" && len(conn.Credentials) == 0 {
		ctx = context.WithValue(ctx, subjectLaterKey{}, true)
	}
	return cl.eng.oauthConfigReg(ctx, cl.auth, conn, "", "")
}

type subjectLaterKey struct{}

// configFromMap reads getOAuthConfig's result; see openOAuthConfig.
func configFromMap(ctx context.Context, raw map[string]any) (oauth2.Config, error) {
	if later, _ := ctx.Value(subjectLaterKey{}).(bool); later {
		return oauth2.ConfigFromMapSubjectLater(raw)
	}
	return oauth2.ConfigFromMap(raw)
}

// resolvedSubjectKey carries the subject token an auth resolver returned
// into its exchange, which must send exactly that one.
type resolvedSubjectKey struct{}

// exchangeToken runs the token exchange grant with cfg, its subject and
// actor tokens (and audience, requested token type) mapped again from the
// current credentials. It returns the request fields it sent, and redact
// knowing the tokens.
func (s *oauth2Session) exchangeToken(ctx context.Context, cl *Client, cfg oauth2.Config, hc *http.Client, cur *clientState, redact *redactor) (*oauth2.Token, oauth2.TokenExchange, *redactor, error) {
	conn := cl.conn
	conn.Credentials = cur.credentials
	fresh, _, err := cl.eng.oauthConfigReg(ctx, cl.auth, conn, "", "")
	if err != nil {
		// Refused before anything is sent (a missing subject token, say).
		return nil, oauth2.TokenExchange{}, redact, err
	}
	x := fresh.TokenExchange
	redact = redact.With(x.SubjectToken, x.ActorToken)
	if want, ok := ctx.Value(resolvedSubjectKey{}).(string); ok && x.SubjectToken != want {
		return nil, x, redact, fmt.Errorf("the auth resolver returned a subject token, but getOAuthConfig maps subjectToken from elsewhere: map it with {$var: credentials.%s}", SubjectTokenCredentialsKey)
	}
	cfg.TokenExchange = x
	tok, err := cfg.ExchangeToken(ctx, hc)
	if errors.Is(err, oauth2.ErrInvalidGrant) {
		err = &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the token endpoint refused the subject token (invalid_grant): store a new subject token with the connection, or have the auth resolver give a fresh one", Err: err}
	}
	return tok, x, redact, err
}

// keepExchangeTokens puts back into creds every credential that held the
// subject or actor token: a token response (or a mapping of it) must not
// replace the token the next exchange is made with.
func keepExchangeTokens(creds, old map[string]any, x oauth2.TokenExchange) {
	for k, v := range old {
		if s, ok := v.(string); ok && s != "" && (s == x.SubjectToken || s == x.ActorToken) {
			creds[k] = v
		}
	}
}

// exchangeResolved exchanges the subject token an auth resolver returned
// (AuthResult.Type "subjectToken", in creds under
// SubjectTokenCredentialsKey) and returns the exchanged credentials.
func (cl *Client) exchangeResolved(ctx context.Context, creds map[string]any, known *redactor) (map[string]any, error) {
	s, ok := cl.session.(*oauth2Session)
	if !ok || s.cfg.GrantType != oauth2.GrantTokenExchange {
		return nil, fmt.Errorf("the auth resolver returned a subject token, but connector %s (option %q) does not use the token exchange grant (grantType %s)", cl.connector.Spec.Key, cl.conn.Option, oauth2.GrantTokenExchange)
	}
	if s.dpop != nil {
		return nil, errors.New("a resolver's subject token cannot be exchanged for a DPoP-bound token (the key would live nowhere): store the subject token with the connection instead")
	}
	subject, _ := creds[SubjectTokenCredentialsKey].(string)
	if subject == "" {
		return nil, fmt.Errorf("the auth resolver returned an empty subject token")
	}
	r := known.With(stringLeaves(creds)...)
	ctx = context.WithValue(ctx, resolvedSubjectKey{}, subject)
	out, err := s.Renew(ctx, cl, &clientState{credentials: maps.Clone(creds), redact: r})
	if err != nil {
		return nil, redactError(err, r)
	}
	return out, nil
}

// exchangeRefused reports whether the token endpoint refused an exchange
// (an RFC 6749 error answer, not a passing failure): the resolver is then
// asked again with ForceRefresh.
func exchangeRefused(err error) bool {
	var te *oauth2.TokenError
	return errors.As(err, &te) && !te.Transient
}
