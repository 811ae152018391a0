package oauth2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// GrantTokenExchange is the OAuth 2.0 Token Exchange grant (RFC 8693): the
// client trades a subject token (the user's token from an identity
// provider, typically) for a token of the API. The short spelling
// "token_exchange" is refused: a server only knows the URN.
const GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// TokenTypeAccessToken is the default subject token type (RFC 8693 section 3).
const TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"

// tokenExchangeKeys are the getOAuthConfig keys only the token exchange
// grant reads.
// (resource is Config.Resource, read for every grant: resource.go).
var tokenExchangeKeys = []string{"subjectToken", "subjectTokenType", "actorToken", "actorTokenType", "audience", "requestedTokenType"}

// TokenExchange holds the RFC 8693 section 2.1 request fields of a Config
// whose GrantType is GrantTokenExchange.
type TokenExchange struct {
	// SubjectToken is the token being exchanged (subject_token); required.
	SubjectToken string
	// SubjectTokenType is its type URI; "" means TokenTypeAccessToken.
	SubjectTokenType string
	// ActorToken and ActorTokenType identify the acting party (both or
	// neither).
	ActorToken, ActorTokenType string
	// Audience names the target service (optional); Config.Resource is
	// the resource parameter (RFC 8693 section 2.1, RFC 8707).
	Audience string
	// RequestedTokenType is the type of token asked for (optional).
	RequestedTokenType string
}

func (c *Config) tokenExchangeFromMap(m map[string]any) error {
	if err := c.checkGrantAlias(); err != nil {
		return err
	}
	if c.GrantType != GrantTokenExchange {
		for _, k := range tokenExchangeKeys {
			if m[k] != nil {
				return fmt.Errorf("oauth2: %s is only used with grantType %s", k, GrantTokenExchange)
			}
		}
		return nil
	}
	vals := make([]string, len(tokenExchangeKeys))
	for i, k := range tokenExchangeKeys {
		s, err := read.String(k, m[k])
		if err != nil {
			return err
		}
		vals[i] = s
	}
	c.TokenExchange = TokenExchange{SubjectToken: vals[0], SubjectTokenType: vals[1], ActorToken: vals[2], ActorTokenType: vals[3],
		Audience: vals[4], RequestedTokenType: vals[5]}
	return nil
}

// ErrSubjectTokenRequired is a token exchange config whose subjectToken is
// empty: nothing is sent.
var ErrSubjectTokenRequired = errors.New("oauth2: subjectToken is required for the token exchange grant (it is empty: map it from the connection input, a connector parameter, or the credentials (credentials.subject_token, stored or given by an auth resolver))")

// ConfigFromMapSubjectLater is ConfigFromMap, except that a token exchange
// config may leave subjectToken (and actorToken, when actorTokenType is
// set) empty: its caller supplies them later (from credentials not known
// yet), and ExchangeToken still refuses to send without them.
func ConfigFromMapSubjectLater(m map[string]any) (Config, error) {
	if m["grantType"] != GrantTokenExchange {
		return ConfigFromMap(m)
	}
	m = maps.Clone(m)
	pending := func(k string) bool {
		if s, ok := m[k].(string); m[k] == nil || ok && s == "" {
			m[k] = tokenPending
			return true
		}
		return false
	}
	subject := pending("subjectToken")
	actor := m["actorTokenType"] != nil && pending("actorToken")
	c, err := ConfigFromMap(m)
	if err != nil {
		return Config{}, err
	}
	if subject {
		c.TokenExchange.SubjectToken = ""
	}
	if actor {
		c.TokenExchange.ActorToken = ""
	}
	return c, nil
}

// tokenPending stands in for a token while the rest of a config is
// checked; it is removed before the config is returned.
const tokenPending = "\x00token-pending"

// checkGrantAlias refuses the short spellings of the token exchange grant.
func (c Config) checkGrantAlias() error {
	if c.GrantType == "token_exchange" || c.GrantType == "token-exchange" {
		return fmt.Errorf("oauth2: grantType must be the URN %s for token exchange (RFC 8693), not the short form", GrantTokenExchange)
	}
	return nil
}

// checkTokenExchange is Validate's part for the token exchange grant.
func (c Config) checkTokenExchange() error {
	x := c.TokenExchange
	if c.GrantType != GrantTokenExchange {
		if x != (TokenExchange{}) {
			return fmt.Errorf("oauth2: subjectToken and the other token exchange keys are only used with grantType %s", GrantTokenExchange)
		}
		return nil
	}
	if x.SubjectToken == "" {
		return ErrSubjectTokenRequired
	}
	if (x.ActorToken == "") != (x.ActorTokenType == "") {
		return errors.New("oauth2: actorToken and actorTokenType go together (RFC 8693 section 2.1): set both or neither")
	}
	return nil
}

// ExchangeToken runs the token exchange grant (RFC 8693 section 2.1):
// grant_type, subject_token, subject_token_type, actor_token and
// actor_token_type, audience, resource, requested_token_type (when set),
// scope (Scopes joined, omitted if empty) and TokenParams, sent to TokenURI
// with the configured client authentication. The answer (section 2.2) must
// carry an access_token; a token_type of N_A (not an access token) is
// refused, and so is an issued_token_type other than RequestedTokenType.
// Errors never contain the subject or actor token.
func (c Config) ExchangeToken(ctx context.Context, hc *http.Client) (*Token, error) {
	if c.GrantType != GrantTokenExchange {
		return nil, fmt.Errorf("oauth2: ExchangeToken needs grantType %s", GrantTokenExchange)
	}
	if err := c.checkTokenExchange(); err != nil {
		return nil, err
	}
	x := c.TokenExchange
	params := copyParams(c.TokenParams)
	params["grant_type"] = GrantTokenExchange
	params["subject_token"] = x.SubjectToken
	params["subject_token_type"] = x.SubjectTokenType
	if params["subject_token_type"] == "" {
		params["subject_token_type"] = TokenTypeAccessToken
	}
	set := func(k, v string) {
		if v != "" {
			params[k] = v
		}
	}
	set("actor_token", x.ActorToken)
	set("actor_token_type", x.ActorTokenType)
	set("audience", x.Audience)
	set("resource", c.Resource)
	set("requested_token_type", x.RequestedTokenType)
	set("scope", c.scope())
	tok, err := c.TokenRequest(ctx, hc, params, c.TokenURI)
	if err != nil {
		return nil, err
	}
	if tok.TokenType == "N_A" || tok.TokenType == "n_a" {
		return nil, &TokenError{Status: http.StatusOK, Err: errors.New("token exchange issued a token that is not an access token (token_type N_A)")}
	}
	issued, _ := tok.Raw["issued_token_type"].(string)
	if x.RequestedTokenType != "" && issued != "" && issued != x.RequestedTokenType {
		return nil, &TokenError{Status: http.StatusOK, Err: fmt.Errorf("token exchange issued a token of another type than requestedTokenType (issued_token_type %q)", cleanType(issued))}
	}
	return tok, nil
}

// cleanType shows a server's token type URI only when it looks like one.
func cleanType(s string) string {
	if len(s) > 100 || !slices.ContainsFunc([]string{"urn:", "http"}, func(p string) bool { return len(s) >= len(p) && s[:len(p)] == p }) {
		return "(not shown)"
	}
	return s
}
