export default async function test({ apiClient }) {
  const me = await apiClient.get('/users/me')
  return me?.object === 'user'
}
