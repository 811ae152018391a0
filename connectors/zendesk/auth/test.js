// Shared by both options. /users/me answers 200 even without valid
// credentials, with an anonymous user whose id is null, so the id decides.
export default async function test({ apiClient }) {
  const res = await apiClient.get('/users/me.json')
  return Boolean(res && res.user && res.user.id)
}
