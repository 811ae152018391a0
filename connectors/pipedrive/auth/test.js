// Shared by both options: the user the token or OAuth grant belongs to.
export default async function test({ apiClient }) {
  const res = await apiClient.get('/users/me')
  return Boolean(res && res.success && res.data && res.data.id)
}
