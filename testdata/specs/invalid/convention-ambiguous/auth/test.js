export default async function test({ apiClient }) {
  const me = await apiClient.get('/me')
  return Boolean(me?.id)
}
