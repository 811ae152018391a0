// Shared by both options: the member the token acts for.
export default async function test({ apiClient }) {
  const me = await apiClient.get('/members/me', { fields: 'id,username' })
  return typeof me?.id === 'string' && me.id !== ''
}
