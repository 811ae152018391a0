// HubSpot access tokens live for 30 minutes; store an absolute expiry next to the token.
export default async function getCredentialsFromAccessTokenResponse({ tokenResponse }) {
  const expiresIn = Number(tokenResponse.expires_in) || 1800
  return {
    access_token: tokenResponse.access_token,
    refresh_token: tokenResponse.refresh_token,
    token_type: tokenResponse.token_type,
    expires_in: expiresIn,
    expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(),
  }
}
