export default async function test({ apiClient }) {
  const res = await apiClient.post('', { query: '{ viewer { id name } }' })
  return Boolean(res?.data?.viewer?.id)
}
