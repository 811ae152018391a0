export default async function test({ apiClient }) {
  const page = await apiClient.get('/crm/v3/objects/contacts', { query: { limit: 1 } })
  return Array.isArray(page?.results)
}
