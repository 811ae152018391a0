import { ConnectionError } from '@integration-app/sdk'

// A token without permissions is issued but useless. Probe one endpoint that
// a granted permission allows.
const probes = [
  ['read:users', '/users', { per_page: 1, fields: 'user_id', include_fields: true }],
  ['read:clients', '/clients', { per_page: 1, fields: 'client_id', include_fields: true }],
  ['read:tenant_settings', '/tenants/settings', { fields: 'friendly_name' }],
  ['read:stats', '/stats/active-users', undefined],
]

export default async function test({ credentials, apiClient }) {
  const granted = (credentials.scope || '').split(' ').filter(Boolean)
  if (granted.length === 0) {
    throw new ConnectionError({
      message: 'The application has no Management API permissions; authorize it for the Auth0 Management API and select some.',
    })
  }
  for (const [scope, path, query] of probes) {
    if (granted.includes(scope)) {
      await apiClient.get(path, query)
      return true
    }
  }
  // None of the probed permissions: the token itself was accepted by Auth0.
  return true
}
