// The token must be able to read the user it was issued for.
export default async function test({ apiClient }) {
  const user = await apiClient.get('/user')
  return Boolean(user && user.login)
}
