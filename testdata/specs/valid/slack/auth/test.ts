import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'

type AuthTestResponse = { ok: boolean; error?: string; team_id?: string; user_id?: string }

export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const res: AuthTestResponse = await apiClient.post('/auth.test')
  if (res.ok) {
    return true
  }
  if (res.error === 'invalid_auth' || res.error === 'token_revoked') {
    throw new ConnectionError({ key: ConnectionErrorKey.ACCESS_TOKEN_EXPIRED, message: res.error })
  }
  return false
}
