import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'

type MeResponse = {
  data?: { id: string; username: string; name: string }
  errors?: { title?: string; detail?: string }[]
}

export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const me: MeResponse = await apiClient.get('/users/me', { 'user.fields': 'id,username' })
  if (me?.data?.id) {
    return true
  }
  if (me?.errors?.length) {
    throw new ConnectionError({
      key: ConnectionErrorKey.CONNECTION_IS_DEFUNCT,
      message: me.errors[0].detail || me.errors[0].title || 'X rejected the token',
    })
  }
  return false
}
