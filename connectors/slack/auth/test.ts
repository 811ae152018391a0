type AuthTestResponse = { ok: boolean; error?: string; team_id?: string; user_id?: string }

// auth.test answers for any valid token; failures surface through the
// response handlers of makeApiClient as connection errors.
export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const res: AuthTestResponse = await apiClient.post('/auth.test')
  return Boolean(res?.ok && res.user_id)
}
