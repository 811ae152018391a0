// A one-row SuiteQL query: it needs the REST Web Services permission that
// every integration needs anyway, and reads nothing sensitive.
export default async function test({ apiClient }) {
  const res = await apiClient.makeRequest('POST', '/query/v1/suiteql', {
    query: { limit: 1 },
    headers: { Prefer: 'transient' },
    data: { q: 'SELECT id FROM currency' },
  })
  return Array.isArray(res?.items)
}
