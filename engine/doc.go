// Package engine runs connectors: it compiles connector specs and hands out
// authenticated HTTP clients for connections to them, renewing their
// credentials as they expire.
//
// # Connectors
//
// [spec.Load] reads a connector (YAML, plus JavaScript/TypeScript methods);
// [Compile] compiles every mapping, formula, expression and JavaScript method
// once and checks it against the variables that method receives. Both report
// problems as positioned [spec.Diagnostics] (FILE:LINE:COL: error: ...).
// An [Engine] does both and registers the result: [Engine.Load] for a path on
// disk, [Engine.LoadFS] for any [io/fs.FS], such as the bundled library
// (connectors.FS() of package github.com/connspec/connspec/connectors).
// [ValidatePath] is what `connspec validate` runs.
//
// # Clients
//
// [Engine.Client] takes a [Connection] (connector or integration, auth
// option, the developer's connector parameters, what the user typed, stored
// credentials, the account) and returns a [Client]. Its
// [Client.HTTPClient] is a plain *http.Client whose transport joins relative
// paths to the connector's baseUri, applies makeApiClient's headers, query
// and Basic auth (signs, for OAuth 1.0a), evaluates responseHandlers and
// retries 429 answers honouring Retry-After ([WithRateLimitRetries]).
// [Client.Get], [Client.Post] and [Client.Do] decode JSON answers. A
// connection's input is checked against the connector's UI schema first
// ([InputError]).
//
// # OAuth and refresh
//
// [Engine.AuthorizationURL] and [Engine.CompleteAuthorization] run the
// authorization code flow (with PKCE) of oauth2 and oauth1 connectors;
// `grantType: client_credentials` fetches its token on first use, and so
// does the token exchange grant (RFC 8693,
// `grantType: urn:ietf:params:oauth:grant-type:token-exchange`). A client
// renews expiring credentials before they expire and once on a 401, in a
// single flight per connection for all concurrent requests, and replays a
// request whose body can be sent again. A refused refresh token
// (invalid_grant) makes the connection defunct ([ErrConnectionIsDefunct])
// until it is authorised again; a failing token endpoint leaves a
// still-valid token in use. [WithCredentialsHook] is told every new
// credentials before they are used; [WithRefreshHook] every renewal's
// outcome; [Client.TokenSource] adapts a connection to golang.org/x/oauth2.
//
// # Stores
//
// A connection with an ID keeps its credentials in a store
// ([WithStore]; an in-memory one by default; SQLite and PostgreSQL in
// package engine/store, sealed with AES-256-GCM). Renewed credentials are
// written with compare-and-swap before they are used, so processes sharing a
// store renew a connection once and a rotated refresh token is never lost;
// when the store cannot take them, the engine keeps them and writes them
// before any further renewal.
//
// # Resolvers and integrations
//
// [Engine.Integration] names an instance of a connector with its own
// parameters. [Engine.DefineAuthResolver] makes an integration's (or a
// connector's) connections take their credentials from the embedding
// application per [Account] ("bring your own auth"); results are cached for
// their TTL, one resolver call per account at a time, and asked again with
// ForceRefresh after a 401. [ErrUnresolvedAuth] matches every failure.
//
// # Proxy connectors and platform tokens
//
// A connector of auth type proxy rides on a connection of the connector its
// proxyKey names ([Connection.Base]): it adds its own base URI and headers
// and shares that connection's credentials and refresh. integration-app-token
// (membrane-token) connections get an HS256 token per account, minted with
// the workspace secret of [WithWorkspace] and reminted before it expires.
//
// # Host policy
//
// Every request that carries a secret (API calls, token, refresh and revoke
// requests, the authorize redirect, apiClient and fetch from methods) passes
// one check before it is sent: its host must be one the connector author or
// the developer wrote (literal in the connector, connector parameters,
// allowedHosts patterns); a value the end user typed may only fill whole DNS
// labels of a pattern the author declared ([HostError]). Redirects to other
// hosts are not followed. [WithConnectTo] sends a host's requests to a local
// mock without changing that policy.
//
// # Errors
//
// Errors are typed for [errors.Is] and [errors.As]: [ConnectionError] with
// its key, [InputError], [MethodError] with the method's file:line:col,
// [HostError], [HTTPError], [UnresolvedAuthError]. No error or log line
// contains a credential or a connection input value.
package engine
