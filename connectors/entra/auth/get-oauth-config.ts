// https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc
//
// The issuer is the tenant's v2.0 issuer; the engine fetches its OpenID
// Connect metadata (https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration),
// checks that it names this issuer, and takes the authorize and token
// endpoints from it. The UI schema restricts the tenant to a GUID: the
// metadata of a domain name names the GUID instead, and that of "common"
// or "organizations" the literal placeholder
// https://login.microsoftonline.com/{tenantid}/v2.0, so neither could pass
// the issuer check. The host is written here; the tenant only picks a path
// segment.

interface Input {
  connectorParameters: { clientId?: string; clientSecret?: string; scopes?: string[] }
  connectionInput: { tenant?: string }
}

export default function getOAuthConfig({ connectorParameters, connectionInput }: Input) {
  const tenant = encodeURIComponent((connectionInput?.tenant || '').trim().toLowerCase())
  const requested = connectorParameters.scopes?.length ? connectorParameters.scopes : ['User.Read']
  // offline_access is what makes the token endpoint return a refresh token.
  const scopes = requested.includes('offline_access') ? requested : ['offline_access', ...requested]
  return {
    clientId: connectorParameters.clientId,
    clientSecret: connectorParameters.clientSecret,
    issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
    scopes,
    // The v2.0 token endpoint documents client_secret as a body parameter.
    clientAuthLocation: 'body',
    // A refresh request names the scopes again (the same or a subset).
    refreshParams: { scope: scopes.join(' ') },
  }
}
