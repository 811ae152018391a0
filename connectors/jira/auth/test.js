// Shared by both options: each baseUri ends in /rest/api/3, so /myself is the
// signed-in user whether the request goes through the OAuth gateway or to
// the site directly.
export default async function test({ apiClient }) {
  const me = await apiClient.get('/myself')
  return Boolean(me && me.accountId && me.active !== false)
}
