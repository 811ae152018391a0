// The token response carries instance_url (the org's API host) and id, the
// identity URL https://login.salesforce.com/id/<orgId>/<userId>.
export default function getCredentialsFromAccessTokenResponse({ tokenResponse }) {
  const parts = String(tokenResponse.id || '').split('/')
  const userId = parts.length >= 2 ? parts[parts.length - 1] : undefined
  const orgId = parts.length >= 2 ? parts[parts.length - 2] : undefined
  return {
    access_token: tokenResponse.access_token,
    refresh_token: tokenResponse.refresh_token,
    token_type: tokenResponse.token_type,
    scope: tokenResponse.scope,
    instance_url: String(tokenResponse.instance_url || '').replace(/\/+$/, ''),
    id: tokenResponse.id,
    org_id: orgId,
    user_id: userId,
    issued_at: tokenResponse.issued_at,
  }
}
