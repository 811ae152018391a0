// Account details need only the oauth scope, which every install has.
export default async function test({ apiClient }) {
  const account = await apiClient.get('/account-info/v3/details')
  return Boolean(account && account.portalId)
}
