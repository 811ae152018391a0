package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/connspec/connspec/engine/jwtgrant"
	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/internal/mapvalue"
	"github.com/connspec/connspec/spec"
)

// jwt-bearer: the JWT bearer grant (RFC 7523 section 2.1). getJwtBearerConfig
// names the key, the claims and the token endpoint (or gives a Google
// service-account key file holding them); the access token is fetched on
// first use and fetched again, with a fresh assertion, before it expires,
// through the engine's shared renewal.
func init() {
	RegisterKind("jwt-bearer", KindFunc(openJWTBearer))
}

// jwtRead reads getJwtBearerConfig values; errors start with "jwt-bearer:".
var jwtRead = mapvalue.Reader("jwt-bearer")

// serviceAccountExclusive are the keys a service-account key file provides;
// setting them beside it would leave one of the two silently unused.
var serviceAccountExclusive = []string{"tokenUri", "issuer", "privateKey", "keyId", "algorithm"}

// jwtBearerSession is one client's JWT bearer grant.
type jwtBearerSession struct {
	BaseSession
	// cfg carries TokenURI, TokenParams and the engine's clock.
	cfg    oauth2.Config
	key    *jwtgrant.Key
	claims jwtgrant.Claims
	// secrets are the key texts, redacted from every error.
	secrets []string
}

// openJWTBearer evaluates the connection's getJwtBearerConfig and checks
// everything the grant needs before the client is handed out: the key
// parses, the claims sign, and the token endpoint passes the host policy.
func openJWTBearer(ctx context.Context, cl *Client) (Session, error) {
	raw, m, r, err := cl.runConfigMethod(ctx, spec.MethodGetJWTBearerConfig)
	if err != nil {
		return nil, err
	}
	s, err := newJWTBearerSession(cl, raw)
	if err != nil {
		return nil, redactedMethodError(m, err, r.With(s.secrets...))
	}
	s.cfg.Now = cl.eng.now
	// Sign once now: a claim the library refuses (a lifetime over an hour,
	// say) is the connector's error at connect time, not at the first call.
	if _, err := s.key.Sign(s.claims, cl.eng.now()); err != nil {
		return nil, redactedMethodError(m, err, r.With(s.secrets...))
	}
	return s, nil
}

// newJWTBearerSession reads getJwtBearerConfig's result. On error it still
// returns the session with the secret texts it read, for redaction.
func newJWTBearerSession(cl *Client, raw map[string]any) (*jwtBearerSession, error) {
	s := &jwtBearerSession{}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(spec.JWTBearerConfigKeys, k) {
			return s, fmt.Errorf("jwt-bearer: the result has no key %q: connspec would not use it (keys: %s)", k, strings.Join(spec.JWTBearerConfigKeys, ", "))
		}
	}
	str := func(key string) (string, error) { return jwtRead.String(key, raw[key]) }
	input := inputValues(cl.conn.ConnectionParameters)
	var tokenURI string
	if raw["serviceAccountKey"] != nil {
		sa, err := s.readServiceAccount(raw)
		if err != nil {
			return s, err
		}
		// The key file is typically pasted by the user: its token_uri is
		// user input, and its host must be one the author wrote.
		u, _ := url.Parse(sa.TokenURI)
		fileInput := append(slices.Clone(input), inputValue{field: "serviceAccountKey.token_uri", value: u.Hostname()})
		if _, err := cl.auth.hosts.checkURL("serviceAccountKey.token_uri", sa.TokenURI, fileInput, nil); err != nil {
			return s, err
		}
		tokenURI, s.key = sa.TokenURI, sa.Key
		s.claims.Issuer = sa.ClientEmail
	} else {
		var vals [5]string
		for i, k := range []string{"tokenUri", "issuer", "privateKey", "keyId", "algorithm"} {
			v, err := str(k)
			if err != nil {
				return s, err
			}
			vals[i] = v
		}
		pemText, kid, alg := vals[2], vals[3], vals[4]
		if pemText != "" {
			s.secrets = append(s.secrets, pemText)
		}
		for i, k := range []string{"tokenUri", "issuer", "privateKey"} {
			if vals[i] == "" {
				return s, fmt.Errorf("jwt-bearer: %s is required (or serviceAccountKey, a Google key file)", k)
			}
		}
		if err := jwtRead.URL("tokenUri", vals[0]); err != nil {
			return s, err
		}
		if _, err := cl.auth.hosts.checkURL("tokenUri", vals[0], input, nil); err != nil {
			return s, err
		}
		key, err := jwtgrant.ParsePrivateKey([]byte(pemText), alg)
		if err != nil {
			return s, fmt.Errorf("jwt-bearer: privateKey: %s", strings.TrimPrefix(err.Error(), "jwtgrant: "))
		}
		key.KeyID = kid
		tokenURI, s.key = vals[0], key
		s.claims.Issuer = vals[1]
	}
	return s, s.readClaims(raw, tokenURI)
}

// readServiceAccount parses serviceAccountKey, the JSON text of a Google
// key file (or the object it decodes to), and refuses the keys it replaces.
func (s *jwtBearerSession) readServiceAccount(raw map[string]any) (*jwtgrant.ServiceAccount, error) {
	var data []byte
	switch v := raw["serviceAccountKey"].(type) {
	case string:
		data = []byte(v)
	case map[string]any:
		data, _ = json.Marshal(v) // decoded JSON encodes again
	default:
		return nil, fmt.Errorf("jwt-bearer: serviceAccountKey must be the JSON text of a key file, not %s", mapvalue.Kind(v))
	}
	s.secrets = append(s.secrets, string(data))
	for _, k := range serviceAccountExclusive {
		if raw[k] != nil {
			return nil, fmt.Errorf("jwt-bearer: %s cannot be set beside serviceAccountKey, whose key file provides it", k)
		}
	}
	sa, err := jwtgrant.ParseServiceAccount(data)
	if err != nil {
		return nil, fmt.Errorf("jwt-bearer: serviceAccountKey: %s", strings.TrimPrefix(err.Error(), "jwtgrant: "))
	}
	// Errors quote neither, but a provider's error text might echo them.
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	if json.Unmarshal(data, &f) == nil && f.PrivateKey != "" {
		s.secrets = append(s.secrets, f.PrivateKey)
	}
	return sa, nil
}

// readClaims reads subject, audience (default tokenURI), scopes (the
// assertion's scope claim, as Google wants it), lifetime and tokenParams.
func (s *jwtBearerSession) readClaims(raw map[string]any, tokenURI string) error {
	var err error
	if s.claims.Subject, err = jwtRead.String("subject", raw["subject"]); err != nil {
		return err
	}
	if s.claims.Audience, err = audienceOf(raw["audience"]); err != nil {
		return err
	}
	if len(s.claims.Audience) == 0 {
		s.claims.Audience = []string{tokenURI}
	}
	scopes, err := jwtRead.Scopes(raw["scopes"], " ")
	if err != nil {
		return err
	}
	s.claims.Scope = strings.Join(scopes, " ")
	if s.claims.Lifetime, err = jwtRead.Seconds("lifetime", raw["lifetime"]); err != nil {
		return err
	}
	if raw["lifetime"] != nil && s.claims.Lifetime == 0 {
		return errors.New("jwt-bearer: lifetime must be at least 1 second")
	}
	s.cfg.TokenURI = tokenURI
	s.cfg.TokenParams, err = jwtRead.StringMap("tokenParams", raw["tokenParams"])
	if err != nil {
		return err
	}
	for _, k := range []string{"grant_type", "assertion"} {
		if _, ok := s.cfg.TokenParams[k]; ok {
			return fmt.Errorf("jwt-bearer: tokenParams cannot set %s, which the grant sets itself", k)
		}
	}
	return nil
}

// audienceOf reads audience: one string or a list of strings.
func audienceOf(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		s, err := jwtRead.String("audience", v)
		if s == "" || err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var out []string
	for i, e := range list {
		s, err := jwtRead.String(fmt.Sprintf("audience[%d]", i), e)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, fmt.Errorf("jwt-bearer: audience[%d] is empty", i)
		}
		out = append(out, s)
	}
	return out, nil
}

// Secrets are the key texts (a key file's private key is not an input
// value of its own), redacted from the client's errors, logs and output.
func (s *jwtBearerSession) Secrets() []string { return s.secrets }

// Start: the first token is fetched on first use, like a renewal.
func (s *jwtBearerSession) Start(context.Context, *Client) (map[string]any, bool, error) {
	return map[string]any{}, false, nil
}

// CanRenew: a new assertion can always be signed.
func (s *jwtBearerSession) CanRenew(map[string]any) bool { return true }

// Ready reports whether there is an access token to send.
func (s *jwtBearerSession) Ready(creds map[string]any) bool {
	at, _ := creds["access_token"].(string)
	return at != ""
}

// RefreshMargin is oauth2.DefaultRefreshMargin: renewed a minute before expiry.
func (s *jwtBearerSession) RefreshMargin() time.Duration { return oauth2.DefaultRefreshMargin }

// Renew signs a fresh assertion and exchanges it for an access token.
func (s *jwtBearerSession) Renew(ctx context.Context, cl *Client, cur *clientState) (map[string]any, error) {
	r := cur.redact
	tok, err := s.cfg.JWTBearer(ctx, cl.tokenHTTPClient(), s.key, s.claims)
	if errors.Is(err, oauth2.ErrInvalidGrant) {
		err = &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the provider rejected the signed assertion (invalid_grant): check the key, issuer, subject, audience and scopes", Err: err}
	}
	if err != nil {
		return nil, redactError(err, r)
	}
	return cl.eng.credentialsFromToken(ctx, cl.auth, spec.MethodGetCredentialsFromAccessTokenResponse, cl.conn, tok, cur.credentials, nil, r)
}
