import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'

// Salesforce does not rotate refresh tokens: carry the old one forward.
export default async function refreshCredentials({ credentials, connectorParameters, apiClient }) {
  if (!credentials.refresh_token) {
    throw new ConnectionError({
      key: ConnectionErrorKey.CONNECTION_IS_DEFUNCT,
      message: 'No refresh token stored; reconnect the Salesforce org',
    })
  }
  const host = credentials.instance_url || 'https://login.salesforce.com'
  const body = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: credentials.refresh_token,
    client_id: connectorParameters.clientId,
    client_secret: connectorParameters.clientSecret,
  })
  const res = await apiClient.post(`${host}/services/oauth2/token`, body.toString(), {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  })
  return { ...credentials, ...res, refresh_token: credentials.refresh_token }
}
