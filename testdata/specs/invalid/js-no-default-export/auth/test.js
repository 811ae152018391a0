// Named export only: the engine needs `export default`.
export async function test({ apiClient }) {
  const me = await apiClient.get('/me')
  return Boolean(me?.id)
}
