// /api/v1/validate checks the API key only; /api/v2/validate_keys checks the
// API key and the application key together, which is what reads need.
export default async function test({ apiClient }) {
  const res = await apiClient.get('/api/v2/validate_keys')
  return res?.status === 'ok'
}
