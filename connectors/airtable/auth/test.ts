import { ConnectionError } from '@integration-app/connector-sdk'

type WhoAmI = { id?: string; email?: string; scopes?: string[] }

// whoami works with any scope and tells which scopes the token really has.
export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const me: WhoAmI = await apiClient.get('/meta/whoami')
  if (!me?.id) {
    throw new ConnectionError({ message: 'Airtable did not identify the user behind the token' })
  }
  if (Array.isArray(me.scopes) && !me.scopes.some((s) => s.startsWith('data.records:'))) {
    throw new ConnectionError({ message: `The token cannot read records; granted scopes: ${me.scopes.join(' ')}` })
  }
  return true
}
