// Shared by both options: works for the OAuth gateway URL and for the site URL alike.
export default async function test({ apiClient }) {
  const me = await apiClient.get('/rest/api/3/myself')
  return Boolean(me?.accountId)
}
