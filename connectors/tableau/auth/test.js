// The signed-in user (Tableau REST API reference, "Query User On Site"):
// answers only to a valid credentials token.
export default async function test({ apiClient, credentials }) {
  const res = await apiClient.get('/users/' + credentials.userId)
  return Boolean(res && res.user && res.user.id)
}
