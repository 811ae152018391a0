package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/engine/store"
)

// Dynamic Client Registration (RFC 7591, with RFC 7592 management): when
// getOAuthConfig uses discovery (issuer) and gives no clientId, and the
// server's metadata has a registration_endpoint, the engine registers a
// client, once per server: the registration is kept in the engine's store
// under a reserved record ID (sealed like credentials, shared by every
// engine on the store; the first writer wins by compare-and-swap) keyed by
// issuer, normalised redirect URI and grant. Connections record which
// registration their tokens were issued to (RegistrationCredentialsKey), so
// refreshes use that client. A server that forgets the client (invalid_client
// at the token endpoint, or client_secret_expires_at passed) makes the engine
// read the client (RFC 7592) or register anew.

// RegistrationCredentialsKey is the credentials key reserved for the
// registration a connection's tokens were issued to: {"id": the store
// record ID, "client_id": the client}. No secret: the client secret stays in
// the registration record. The engine carries it over every renewal.
const RegistrationCredentialsKey = "oauth_registration"

// registrationIDPrefix starts the store record IDs of registrations; the
// engine refuses connection IDs that start with it (checkConnectionID), so
// no connection can read or overwrite a registration.
const registrationIDPrefix = "connspec-registration:"

// maxRegistrationAnswer bounds a registration endpoint's answer.
const maxRegistrationAnswer = 64 << 10

// DefaultClientName is the client_name the engine registers with, unless
// WithClientName says otherwise.
const DefaultClientName = "connspec"

// WithClientName sets the client_name of dynamically registered clients
// (RFC 7591 section 2).
func WithClientName(name string) Option { return func(e *Engine) { e.clientName = name } }

// WithRegistrationStore keeps dynamically registered clients in s instead
// of the engine's store (WithStore): for a process whose connections live
// elsewhere (the CLI keeps credentials in a file) but whose registrations
// must outlast it, so a later run can refresh tokens issued to the client.
// s should seal what it keeps: registrations hold client secrets.
func WithRegistrationStore(s store.Store) Option {
	return func(e *Engine) { e.registrationStore = s }
}

// regStore is where registrations are kept.
func (e *Engine) regStore() store.Store {
	if e.registrationStore != nil {
		return e.registrationStore
	}
	return e.store
}

// checkConnectionID refuses connection IDs the engine reserves.
func checkConnectionID(id string) error {
	if strings.HasPrefix(id, registrationIDPrefix) {
		return fmt.Errorf("connection ID %.80q starts with %q, which the engine reserves for client registrations", id, registrationIDPrefix)
	}
	return nil
}

// registrationLocks makes registration single flight per record in one
// process (the store's compare-and-swap does it across processes).
type registrationLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (l *registrationLocks) lock(id string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	m := l.locks[id]
	if m == nil {
		m = &sync.Mutex{}
		l.locks[id] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// clientRegistration is one registered client, as stored.
type clientRegistration struct {
	id      string // store record ID
	version int64  // store version read
	// issuer and the endpoint it was registered at, for re-registering
	// from a refresh.
	Issuer   string   `json:"issuer"`
	Endpoint string   `json:"registration_endpoint"`
	Redirect []string `json:"redirect_uris,omitempty"`
	ClientID string   `json:"client_id"`
	Secret   string   `json:"client_secret,omitempty"`
	// SecretExpiresAt: unix seconds, 0 for never (RFC 7591 section 3.2.1).
	SecretExpiresAt int64  `json:"client_secret_expires_at,omitempty"`
	AuthMethod      string `json:"token_endpoint_auth_method,omitempty"`
	// RFC 7592 management.
	ClientURI   string `json:"registration_client_uri,omitempty"`
	AccessToken string `json:"registration_access_token,omitempty"`
	// Metadata is the request body, to register anew with it.
	Metadata map[string]any `json:"metadata"`
	// InitialToken is the initial access token registration needed (RFC
	// 7591 section 3), kept to register anew.
	InitialToken string `json:"initial_access_token,omitempty"`
}

func (c *clientRegistration) secrets() []string {
	return []string{c.Secret, c.AccessToken, c.InitialToken}
}

func (c *clientRegistration) expired(now time.Time) bool {
	return c.SecretExpiresAt > 0 && !now.Before(time.Unix(c.SecretExpiresAt, 0))
}

func (c *clientRegistration) toMap() map[string]any {
	b, _ := json.Marshal(c)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func registrationFromRecord(id string, rec store.Record) (*clientRegistration, error) {
	b, err := json.Marshal(rec.Credentials)
	if err != nil {
		return nil, err
	}
	c := &clientRegistration{}
	if err := json.Unmarshal(b, c); err != nil || c.ClientID == "" {
		return nil, fmt.Errorf("the stored client registration %s cannot be read", id)
	}
	c.id, c.version = id, rec.Version
	return c, nil
}

// normalRedirect is the redirect URI a registration is keyed by: a loopback
// IP literal's port is dropped (RFC 8252 section 7.3: the server accepts
// any port), so each `connspec connect` run reuses the registration.
func normalRedirect(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" {
		return redirect
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") {
			u.Host = "[" + u.Host + "]"
		}
		return u.String()
	}
	return redirect
}

// registrationID is the store record ID of issuer's registration for a
// redirect URI, grant, client authentication method and scope: connectors
// that ask for another method or scope get their own client, never one
// registered for something else.
func registrationID(issuer, redirect string, meta map[string]any) string {
	grants, _ := json.Marshal(meta["grant_types"])
	method, _ := meta["token_endpoint_auth_method"].(string)
	scope, _ := meta["scope"].(string)
	h := sha256.Sum256([]byte(strings.Join([]string{issuer, normalRedirect(redirect), string(grants), method, scope}, "\x00")))
	return registrationIDPrefix + hex.EncodeToString(h[:16])
}

// usesRegistration reports whether raw (getOAuthConfig's result, after
// discovery) has no client of its own and needs one: the token exchange
// grant may be sent without client authentication (RFC 8693 section 2.1),
// so it is left as the connector wrote it.
func usesRegistration(raw map[string]any) bool {
	if g, _ := raw["grantType"].(string); g == oauth2.GrantTokenExchange {
		return false
	}
	v, ok := raw["clientId"]
	s, _ := v.(string)
	return !ok || v == nil || s == ""
}

// registeredClient is the seam of applyDiscovery for a configuration
// without clientId: it fills raw's client from issuer's registration for
// redirect (registering when there is none), and returns it. Without a
// redirect an authorization code configuration is a session's: its client
// comes from the connection's credentials (nil returned, raw unchanged).
func (e *Engine) registeredClient(ctx context.Context, a *Auth, issuer string, iu *url.URL, md, raw map[string]any, redirect string) (*clientRegistration, error) {
	endpoint, _ := md["registration_endpoint"].(string)
	if endpoint == "" {
		return nil, fmt.Errorf("getOAuthConfig gives no clientId, and the authorization server %s offers no registration_endpoint (RFC 7591): give clientId", issuer)
	}
	grant, _ := raw["grantType"].(string)
	switch grant {
	case "", oauth2.GrantAuthorizationCode:
		grant = oauth2.GrantAuthorizationCode
		if redirect == "" {
			return nil, nil
		}
	case oauth2.GrantClientCredentials:
		redirect = ""
	default:
		return nil, fmt.Errorf("getOAuthConfig gives no clientId: dynamic client registration covers the authorization_code and client_credentials grants, not %.80q; give clientId", grant)
	}
	u, err := checkIssuerURL("registration_endpoint", endpoint)
	if err != nil {
		return nil, fmt.Errorf("authorization server metadata of %s: %w", issuer, err)
	}
	if err := checkServerHost(a, "registration_endpoint", issuer, iu, u); err != nil {
		return nil, err
	}
	meta, err := registrationMetadata(md, raw, grant, redirect, e.clientNameOr())
	if err != nil {
		return nil, err
	}
	id := registrationID(issuer, redirect, meta)
	initial, ok := raw["registrationAccessToken"].(string)
	if v := raw["registrationAccessToken"]; v != nil && !ok {
		return nil, errors.New("getOAuthConfig registrationAccessToken must be a string (an initial access token, RFC 7591 section 3)")
	}
	c, err := e.registration(ctx, a, id, issuer, iu, endpoint, meta, initial, "")
	if err != nil {
		return nil, err
	}
	if redirect != "" && !hasRedirect(c.Redirect, redirect) {
		return nil, fmt.Errorf("the client registered at %s has redirect_uris without %s: refused", endpoint, redirect)
	}
	applyRegistration(raw, c)
	return c, nil
}

// applyRegistration puts a registered client into raw.
func applyRegistration(raw map[string]any, c *clientRegistration) {
	raw["clientId"] = c.ClientID
	raw["clientSecret"] = c.Secret
	raw["clientAuthLocation"] = authLocation(c.AuthMethod)
}

// useRegistration puts a registered client into cfg.
func useRegistration(cfg *oauth2.Config, c *clientRegistration) {
	cfg.ClientID, cfg.ClientSecret, cfg.ClientAuthLocation = c.ClientID, c.Secret, authLocation(c.AuthMethod)
}

func authLocation(method string) string {
	switch method {
	case "client_secret_post", "none":
		return oauth2.AuthInBody
	}
	return oauth2.AuthInHeaders
}

func (e *Engine) clientNameOr() string {
	if e.clientName != "" {
		return e.clientName
	}
	return DefaultClientName
}

// checkServerHost: a URL from the server's metadata or answers receives
// secrets: on the issuer's host or one the connector allows.
func checkServerHost(a *Auth, field, issuer string, iu, u *url.URL) error {
	if host := hostKey(u); host != hostKey(iu) && !a.hosts.allowsInputHost(host) {
		return fmt.Errorf("%s of the authorization server %s: %w", field, issuer,
			&HostError{Host: host, Allowed: []string{hostKey(iu) + " (the issuer's host)", "the hosts and patterns the connector writes (auth.allowedHosts)"}})
	}
	return nil
}

// registrationMetadata is the client metadata to register (RFC 7591
// section 2).
func registrationMetadata(md, raw map[string]any, grant, redirect, name string) (map[string]any, error) {
	meta := map[string]any{"client_name": name}
	if grant == oauth2.GrantClientCredentials {
		meta["grant_types"] = []string{oauth2.GrantClientCredentials}
		meta["response_types"] = []string{}
	} else {
		meta["redirect_uris"] = []string{redirect}
		meta["grant_types"] = []string{oauth2.GrantAuthorizationCode, "refresh_token"}
		meta["response_types"] = []string{"code"}
	}
	// RFC 8414 section 2: client_secret_basic when the server lists none.
	supported := []any{"client_secret_basic"}
	if l, ok := md["token_endpoint_auth_methods_supported"].([]any); ok {
		supported = l
	}
	prefer := []string{"client_secret_basic", "client_secret_post", "none"}
	switch loc, _ := raw["clientAuthLocation"].(string); loc {
	case "", oauth2.AuthInBoth:
	case oauth2.AuthInHeaders:
		prefer = []string{"client_secret_basic"}
	case oauth2.AuthInBody:
		prefer = []string{"client_secret_post", "none"}
	default:
		return nil, fmt.Errorf("getOAuthConfig clientAuthLocation %.40q cannot be used with dynamic client registration (client_secret_basic, client_secret_post or none): give clientId", loc)
	}
	method := ""
	for _, p := range prefer {
		if slices.Contains(supported, any(p)) {
			method = p
			break
		}
	}
	if method == "" {
		return nil, fmt.Errorf("the authorization server's token_endpoint_auth_methods_supported %v has none of %v to register with", supported, prefer)
	}
	meta["token_endpoint_auth_method"] = method
	switch s := raw["scopes"].(type) {
	case string:
		if s != "" {
			meta["scope"] = s
		}
	case []any:
		var parts []string
		for _, v := range s {
			if str, ok := v.(string); ok && str != "" {
				parts = append(parts, str)
			}
		}
		if len(parts) > 0 {
			meta["scope"] = strings.Join(parts, " ")
		}
	}
	return meta, nil
}

// registration returns the registration stored under id, registering when
// there is none, when its secret expired, or when forgotten names the
// client_id the server no longer knows.
func (e *Engine) registration(ctx context.Context, a *Auth, id, issuer string, iu *url.URL, endpoint string, meta map[string]any, initial, forgotten string) (*clientRegistration, error) {
	unlock := e.registrations.lock(id)
	defer unlock()
	if locker, ok := e.regStore().(store.Locker); ok {
		// Other processes on the store register too: one at a time (the
		// compare-and-swap below still decides when a store has no lock).
		unlockStore, err := locker.Lock(ctx, id)
		if err != nil {
			return nil, err
		}
		defer unlockStore()
	}
	for range 5 {
		var cur *clientRegistration
		rec, err := e.regStore().Get(ctx, id)
		switch {
		case err == nil:
			if cur, err = registrationFromRecord(id, rec); err != nil {
				return nil, err
			}
			if !cur.expired(e.now()) && (forgotten == "" || cur.ClientID != forgotten) {
				return cur, nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		var next *clientRegistration
		if cur != nil && cur.ClientURI != "" && cur.AccessToken != "" {
			if next, err = e.readRegistration(ctx, cur); err != nil {
				return nil, err
			}
			if next != nil && next.expired(e.now()) {
				next = nil
			}
		}
		if next == nil {
			if cur != nil {
				endpoint, meta = cur.Endpoint, cur.Metadata
				if initial == "" {
					initial = cur.InitialToken
				}
			}
			if next, err = e.register(ctx, a, issuer, iu, endpoint, meta, initial); err != nil {
				return nil, err
			}
		}
		var version int64
		if cur != nil {
			version = cur.version
		}
		v, err := e.regStore().CompareAndSwap(ctx, id, version, next.toMap())
		if errors.Is(err, store.ErrConflict) {
			forgotten = "" // another engine registered: use its client
			continue
		}
		if err != nil {
			return nil, err
		}
		next.id, next.version = id, v
		e.logger.Info("connspec: registered an OAuth client (RFC 7591)", "issuer", issuer, "client_id", next.ClientID)
		return next, nil
	}
	return nil, fmt.Errorf("the client registration for %s kept changing under concurrent writers", issuer)
}

// register POSTs meta to endpoint (RFC 7591 section 3.1) and reads the
// answer (section 3.2).
func (e *Engine) register(ctx context.Context, a *Auth, issuer string, iu *url.URL, endpoint string, meta map[string]any, initial string) (*clientRegistration, error) {
	body, _ := json.Marshal(meta)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if initial != "" {
		req.Header.Set("Authorization", "Bearer "+initial)
	}
	resp, err := e.tokenHTTPClient(ctx).Do(req)
	if err != nil {
		return nil, fmt.Errorf("client registration at %s: %w", endpoint, redactError(err, newRedactor(initial)))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistrationAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("client registration at %s: %w", endpoint, err)
	}
	if len(raw) > maxRegistrationAnswer {
		return nil, fmt.Errorf("client registration at %s answered more than %d bytes: refused", endpoint, maxRegistrationAnswer)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, redactError(registrationError(endpoint, resp.Status, raw), newRedactor(initial))
	}
	c, err := readRegistrationAnswer(a, issuer, iu, endpoint, raw)
	if err != nil {
		return nil, err
	}
	if want := metaRedirect(meta); want != "" && !hasRedirect(c.Redirect, want) {
		return nil, fmt.Errorf("client registration at %s answered redirect_uris without the flow's %s: refused", endpoint, want)
	}
	c.Issuer, c.Endpoint, c.Metadata, c.InitialToken = issuer, endpoint, meta, initial
	return c, nil
}

// readRegistration reads the client at its registration_client_uri (RFC
// 7592 section 2.1): the client (its secret perhaps rotated), or nil when
// the server answers that it does not know it (401, 403, 404).
func (e *Engine) readRegistration(ctx context.Context, cur *clientRegistration) (*clientRegistration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cur.ClientURI, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cur.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := e.tokenHTTPClient(ctx).Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the registered client (RFC 7592): %w", redactError(err, newRedactor(cur.secrets())))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistrationAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the registered client (RFC 7592): %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("reading the registered client at %s (RFC 7592) answered %s", cur.ClientURI, resp.Status)
	case len(raw) > maxRegistrationAnswer:
		return nil, fmt.Errorf("reading the registered client at %s (RFC 7592) answered more than %d bytes: refused", cur.ClientURI, maxRegistrationAnswer)
	}
	iu, _ := url.Parse(cur.Issuer)
	c, err := readRegistrationAnswer(nil, cur.Issuer, iu, cur.ClientURI, raw)
	if err != nil {
		return nil, err
	}
	if c.ClientURI == "" { // RFC 7592 section 3: both are returned, but keep what works
		c.ClientURI, c.AccessToken = cur.ClientURI, cur.AccessToken
	}
	if len(c.Redirect) == 0 {
		c.Redirect = cur.Redirect
	}
	if want := metaRedirect(cur.Metadata); want != "" && !hasRedirect(c.Redirect, want) {
		return nil, fmt.Errorf("the registered client at %s now has redirect_uris without %s: refused", cur.ClientURI, want)
	}
	c.Issuer, c.Endpoint, c.Metadata, c.InitialToken = cur.Issuer, cur.Endpoint, cur.Metadata, cur.InitialToken
	return c, nil
}

// readRegistrationAnswer reads a client information response (RFC 7591
// section 3.2.1). a is nil when the registration_client_uri was checked
// before (it must then stay on the issuer's host).
func readRegistrationAnswer(a *Auth, issuer string, iu *url.URL, endpoint string, raw []byte) (*clientRegistration, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("client registration at %s answered something other than a JSON object", endpoint)
	}
	c := &clientRegistration{}
	c.ClientID, _ = m["client_id"].(string)
	if c.ClientID == "" {
		return nil, fmt.Errorf("client registration at %s answered without client_id (RFC 7591 section 3.2.1): refused", endpoint)
	}
	c.Secret, _ = m["client_secret"].(string)
	c.AuthMethod, _ = m["token_endpoint_auth_method"].(string)
	switch c.AuthMethod {
	case "", "client_secret_basic", "client_secret_post", "none":
	default:
		return nil, fmt.Errorf("client registration at %s answered token_endpoint_auth_method %.40q, which the engine did not ask for: refused", endpoint, c.AuthMethod)
	}
	if c.AuthMethod == "" { // RFC 7591 section 2's default
		c.AuthMethod = "client_secret_basic"
	}
	if c.Secret == "" && c.AuthMethod != "none" {
		return nil, fmt.Errorf("client registration at %s answered token_endpoint_auth_method %s without client_secret: refused", endpoint, c.AuthMethod)
	}
	switch v := m["client_secret_expires_at"].(type) {
	case nil:
	case float64:
		if v < 0 {
			return nil, fmt.Errorf("client registration at %s answered a negative client_secret_expires_at", endpoint)
		}
		c.SecretExpiresAt = int64(v)
	default:
		return nil, fmt.Errorf("client registration at %s answered client_secret_expires_at that is not a number", endpoint)
	}
	if l, ok := m["redirect_uris"].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				c.Redirect = append(c.Redirect, s)
			}
		}
	}
	c.ClientURI, _ = m["registration_client_uri"].(string)
	c.AccessToken, _ = m["registration_access_token"].(string)
	if c.ClientURI != "" {
		u, err := checkIssuerURL("registration_client_uri", c.ClientURI)
		if err != nil {
			return nil, fmt.Errorf("client registration at %s: %w", endpoint, err)
		}
		if a != nil {
			if err := checkServerHost(a, "registration_client_uri", issuer, iu, u); err != nil {
				return nil, err
			}
		} else if hostKey(u) != hostKey(iu) {
			if eu, err := url.Parse(endpoint); err != nil || hostKey(u) != hostKey(eu) {
				return nil, fmt.Errorf("the registered client moved its registration_client_uri to another host %s: refused", hostKey(u))
			}
		}
	}
	return c, nil
}

// registrationError reports a refused registration (RFC 7591 section
// 3.2.2): the error code and description, bounded and printable only.
func registrationError(endpoint, status string, raw []byte) error {
	var m struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.Unmarshal(raw, &m)
	msg := fmt.Sprintf("client registration at %s answered %s", endpoint, status)
	if m.Error != "" {
		msg += ": " + printable(m.Error, 80)
		if m.Description != "" {
			msg += " (" + printable(m.Description, 300) + ")"
		}
	}
	return errors.New(msg)
}

// printable cuts s to n runes and replaces control characters.
func printable(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = append(r[:n], '…')
	}
	for i, c := range r {
		if !unicode.IsPrint(c) {
			r[i] = '?'
		}
	}
	return string(r)
}

// registrationOf reads the registration a connection's tokens were issued
// to. ok is false when the credentials name none.
func (e *Engine) registrationOf(ctx context.Context, creds map[string]any, issuer string) (*clientRegistration, bool, error) {
	ref, _ := creds[RegistrationCredentialsKey].(map[string]any)
	if ref == nil {
		return nil, false, nil
	}
	id, _ := ref["id"].(string)
	clientID, _ := ref["client_id"].(string)
	if !strings.HasPrefix(id, registrationIDPrefix) {
		return nil, true, &ConnectionError{Key: KeyConnectionIsDefunct, Message: fmt.Sprintf("the credentials' %s names no client registration: authorise the connection again", RegistrationCredentialsKey)}
	}
	rec, err := e.regStore().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, true, &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the client registration the connection's tokens were issued to is not stored: authorise the connection again"}
	}
	if err != nil {
		return nil, true, err
	}
	c, err := registrationFromRecord(id, rec)
	if err != nil {
		return nil, true, err
	}
	if c.Issuer != issuer {
		// Credentials naming another server's client would send its
		// secret to this one's token endpoint.
		return nil, true, &ConnectionError{Key: KeyConnectionIsDefunct, Message: fmt.Sprintf("the credentials' %s names a client registered at another authorization server, not %s: authorise the connection again", RegistrationCredentialsKey, issuer)}
	}
	if c.ClientID != clientID {
		return nil, true, &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the client the connection's tokens were issued to was registered anew (the server forgot it): authorise the connection again"}
	}
	return c, true, nil
}

// registrationRef is what a connection's credentials keep of c.
func registrationRef(c *clientRegistration) map[string]any {
	return map[string]any{"id": c.id, "client_id": c.ClientID}
}

// invalidClient reports a token endpoint's invalid_client.
func invalidClient(err error) bool {
	var te *oauth2.TokenError
	return errors.As(err, &te) && te.Code == "invalid_client"
}

// forgetRegistration re-registers c after the server refused it
// (invalid_client) or its secret expired: the next flow uses the new client.
func (e *Engine) forgetRegistration(ctx context.Context, a *Auth, c *clientRegistration) (*clientRegistration, error) {
	iu, err := url.Parse(c.Issuer)
	if err != nil {
		return nil, err
	}
	return e.registration(ctx, a, c.id, c.Issuer, iu, c.Endpoint, c.Metadata, "", c.ClientID)
}

// metaRedirect is the redirect URI registered with (the metadata is
// []string when made, []any when read back from the store).
func metaRedirect(meta map[string]any) string {
	switch l := meta["redirect_uris"].(type) {
	case []string:
		if len(l) > 0 {
			return l[0]
		}
	case []any:
		if len(l) > 0 {
			s, _ := l[0].(string)
			return s
		}
	}
	return ""
}

// hasRedirect reports whether uris has want, a loopback IP's port aside.
func hasRedirect(uris []string, want string) bool {
	return slices.ContainsFunc(uris, func(s string) bool { return normalRedirect(s) == normalRedirect(want) })
}

// registrationRawKey carries the registered client from applyDiscovery to
// oauthConfigReg inside getOAuthConfig's result. A method returning the key
// cannot forge the value (a Go type): oauthConfigReg drops it either way.
const registrationRawKey = "\x00registration"

// registrationUse is the registered client of a configuration: c, or for
// a session of the authorization code grant (no redirect URI) the one the
// connection's credentials name (sessionFromCredentials).
type registrationUse struct {
	c          *clientRegistration
	registered bool   // the configuration has no client of its own
	issuer     string // whose registrations the credentials may name
}

// fromCredentials: the client is the one the credentials name.
func (u registrationUse) fromCredentials() bool { return u.c == nil && u.registered }

var errNoRegistrationFlow = errors.New("getOAuthConfig gives no clientId: a dynamically registered client is used by the authorization code flow (with a redirect URI) and the client_credentials grant only; give clientId")

// registeredClientRefused handles a token endpoint's refusal in a code
// exchange: invalid_client for a registered client means the server forgot
// it, so the registration is renewed for the next flow.
func (e *Engine) registeredClientRefused(ctx context.Context, a *Auth, reg registrationUse, err error) error {
	if reg.c == nil || !invalidClient(err) {
		return tokenError(err)
	}
	if _, rerr := e.forgetRegistration(ctx, a, reg.c); rerr != nil {
		return fmt.Errorf("the token endpoint refused the registered client (invalid_client), and registering anew failed: %w", rerr)
	}
	return fmt.Errorf("the token endpoint refused the registered client (invalid_client): the engine registered a new client, start the authorization again: %w", err)
}

// sessionRegistration is the registered client of an OAuth 2.0 session:
// for the client_credentials grant the registration itself (renewed when
// the server forgets it); for the authorization code grant the one the
// connection's credentials name, read at each refresh.
type sessionRegistration struct {
	mu     sync.Mutex
	c      *clientRegistration // client_credentials; nil: from the credentials
	issuer string
}

func newSessionRegistration(u registrationUse) *sessionRegistration {
	if !u.registered {
		return nil
	}
	return &sessionRegistration{c: u.c, issuer: u.issuer}
}

// client puts the registered client into cfg, with a redactor that knows
// its secrets.
func (s *sessionRegistration) client(ctx context.Context, cl *Client, cfg oauth2.Config, cur *clientState) (oauth2.Config, *redactor, error) {
	e := cl.eng
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c == nil {
		var ok bool
		var err error
		c, ok, err = e.registrationOf(ctx, cur.credentials, s.issuer)
		if err != nil {
			return cfg, cur.redact, err
		}
		if !ok {
			return cfg, cur.redact, &ConnectionError{Key: KeyConnectionIsDefunct, Message: fmt.Sprintf("getOAuthConfig gives no clientId, and the credentials name no registered client (%s): authorise the connection again", RegistrationCredentialsKey)}
		}
		if c.expired(e.now()) {
			next, err := e.forgetRegistration(ctx, cl.auth, c)
			if err != nil {
				return cfg, cur.redact, err
			}
			if next.ClientID != c.ClientID {
				return cfg, cur.redact, &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the registered client's secret expired and the server gave a new client: authorise the connection again"}
			}
			c = next
		}
	} else if c.expired(e.now()) {
		return s.renew(ctx, cl, cfg, cur)
	}
	useRegistration(&cfg, c)
	return cfg, cur.redact.With(c.secrets()...), nil
}

// renew replaces a client_credentials session's client the server forgot.
func (s *sessionRegistration) renew(ctx context.Context, cl *Client, cfg oauth2.Config, cur *clientState) (oauth2.Config, *redactor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := cl.eng.forgetRegistration(ctx, cl.auth, s.c)
	if err != nil {
		return cfg, cur.redact, err
	}
	s.c = next
	useRegistration(&cfg, next)
	return cfg, cur.redact.With(next.secrets()...), nil
}

// refused handles invalid_client on a refresh: the refresh token is bound
// to the forgotten client, so the connection needs authorising again, with
// a client registered anew.
func (s *sessionRegistration) refused(ctx context.Context, cl *Client, cur *clientState, err error) error {
	c, _, rerr := cl.eng.registrationOf(ctx, cur.credentials, s.issuer)
	if rerr == nil && c != nil {
		cl.eng.forgetRegistration(ctx, cl.auth, c)
	}
	return &ConnectionError{Key: KeyConnectionIsDefunct, Message: "the token endpoint refused the registered client (invalid_client): authorise the connection again", Err: err}
}

// keep carries the registration a connection's tokens were issued to over
// a renewal, whatever a connector's mapping made of the credentials.
func (s *sessionRegistration) keep(creds, cur map[string]any) {
	if v, ok := cur[RegistrationCredentialsKey]; ok {
		creds[RegistrationCredentialsKey] = v
	} else {
		delete(creds, RegistrationCredentialsKey)
	}
}
