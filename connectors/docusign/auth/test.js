// userinfo on the account server answers for any valid token and lists the
// user's accounts with their base URIs: the connection passes when its
// account is one of them, on the server the connection was given.
// https://developers.docusign.com/platform/auth/reference/user-info/
export default async function test({ connectionInput, apiClient }) {
  const host = connectionInput.environment === 'production' ? 'account.docusign.com' : 'account-d.docusign.com'
  const me = await apiClient.get(`https://${host}/oauth/userinfo`)
  const accounts = (me && me.accounts) || []
  return accounts.some((a) => a.account_id === connectionInput.accountId && a.base_uri === `https://${connectionInput.server}.docusign.net`)
}
