export default async function test({ apiClient }) {
  const me = await apiClient.get('/me')
  if (!me.id {
    return false
  }
  return true
}
