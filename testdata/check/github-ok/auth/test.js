// Connection test: the authenticated user must be readable.
export default async function test({ apiClient }) {
  const user = await apiClient.get('/user')
  return Boolean(user && user.login)
}
