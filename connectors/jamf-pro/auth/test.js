// GET /v1/auth describes the current token's account: it answers only to a
// valid token (Jamf Pro API reference, "auth").
export default async function test({ apiClient }) {
  const res = await apiClient.get('/v1/auth')
  return Boolean(res && res.account)
}
