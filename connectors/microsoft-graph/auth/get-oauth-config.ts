// https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
//
// The tenant is part of both endpoint paths. The UI schema restricts it to
// host-name characters, and it is URL-encoded here as well, so the input can
// only ever pick a path segment under login.microsoftonline.com.

interface Input {
  connectorParameters: { clientId?: string; clientSecret?: string; scopes?: string[] }
  connectionInput: { tenant?: string }
}

export default function getOAuthConfig({ connectorParameters, connectionInput }: Input) {
  const tenant = encodeURIComponent((connectionInput?.tenant || 'common').trim())
  const base = `https://login.microsoftonline.com/${tenant}/oauth2/v2.0`
  const requested = connectorParameters.scopes?.length ? connectorParameters.scopes : ['User.Read']
  // offline_access is what makes the token endpoint return a refresh token.
  const scopes = requested.includes('offline_access') ? requested : ['offline_access', ...requested]
  return {
    clientId: connectorParameters.clientId,
    clientSecret: connectorParameters.clientSecret,
    authorizeUri: `${base}/authorize`,
    tokenUri: `${base}/token`,
    scopes,
    // The v2.0 token endpoint documents client_secret as a body parameter
    // (HTTP Basic is accepted too).
    clientAuthLocation: 'body',
    // PKCE (S256) is supported and recommended; it stays on.
    extra: { response_mode: 'query' },
    // A refresh request names the scopes again (the same or a subset).
    refreshParams: { scope: scopes.join(' ') },
  }
}
