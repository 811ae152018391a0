import { ConnectionError } from '@membranehq/sdk'

// users/get_current_account takes no arguments: the request has no body.
export default async function test({ apiClient, credentials }) {
  const account = await apiClient.post('/users/get_current_account', null)
  if (!account || !account.account_id) {
    throw new ConnectionError({ message: 'Dropbox did not return the current account' })
  }
  if (credentials.account_id && credentials.account_id !== account.account_id) {
    throw new ConnectionError({ message: 'The token belongs to a different Dropbox account than the one connected' })
  }
  return true
}
