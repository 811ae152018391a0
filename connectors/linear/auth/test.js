// The viewer is the user behind the key or the token.
export default async function test({ apiClient }) {
  const res = await apiClient.post('', { query: '{ viewer { id name } }' })
  return Boolean(res && res.data && res.data.viewer && res.data.viewer.id)
}
