import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'

// The metadata endpoint knows the account's data center. It answers 200 even
// for a bad token, with {error: "invalid_token"}.
export default async function test({ credentials, apiClient }) {
  const meta = await apiClient.get('https://login.mailchimp.com/oauth2/metadata')
  if (!meta || meta.error) {
    throw new ConnectionError({
      key: ConnectionErrorKey.CONNECTION_IS_DEFUNCT,
      message: `Mailchimp did not accept the token: ${meta?.error || 'no metadata'}`,
    })
  }
  if (meta.dc !== credentials.dc) {
    throw new ConnectionError({
      message: `This Mailchimp account is in data center "${meta.dc}", not "${credentials.dc}"; connect again with ${meta.dc}.`,
    })
  }
  const ping = await apiClient.get('/ping')
  return Boolean(ping && ping.health_status)
}
