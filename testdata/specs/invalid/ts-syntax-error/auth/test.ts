type Me = { id: string; email?: string }

export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const me: Me = await apiClient.get('/me')
  const ok: boolean = me.id !== undefined &&
  return ok
}
