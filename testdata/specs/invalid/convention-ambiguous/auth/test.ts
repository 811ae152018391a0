export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const me: { id?: string } = await apiClient.get('/me')
  return Boolean(me?.id)
}
