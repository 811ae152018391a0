import { ConnectionError } from '@integration-app/sdk'

// The token alone says nothing about organisations: ask Xero which tenants it
// may reach, make sure the chosen one is among them, then read that
// organisation. A missing or wrong tenantId fails with the choices, so the
// person connecting can pick one.
export default async function test({ apiClient, connectionParameters }) {
  const connections = await apiClient.get('https://api.xero.com/connections')
  const tenants = (Array.isArray(connections) ? connections : []).filter(
    (c) => c && c.tenantType === 'ORGANISATION',
  )
  const choices = tenants.map((t) => `${t.tenantName} (${t.tenantId})`).join(', ')
  const tenantId = (connectionParameters && connectionParameters.tenantId) || ''
  if (!tenantId) {
    throw new ConnectionError({
      message: tenants.length
        ? `Choose the organisation: set tenantId to one of ${choices}`
        : 'The token has access to no Xero organisation; connect again and select one',
    })
  }
  if (!tenants.some((t) => String(t.tenantId).toLowerCase() === tenantId.toLowerCase())) {
    throw new ConnectionError({
      message: `Tenant ${tenantId} is not connected to this app; connected: ${choices || 'none'}`,
    })
  }
  const res = await apiClient.get('/Organisation')
  return Array.isArray(res?.Organisations) && res.Organisations.length > 0
}
