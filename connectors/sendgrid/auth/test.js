// GET /scopes needs no particular permission: every valid key may list what
// it is allowed to do. An empty list would mean a key that can do nothing.
export default async function test({ apiClient }) {
  const res = await apiClient.get('/scopes')
  return Array.isArray(res?.scopes) && res.scopes.length > 0
}
