import { ConnectionError } from '@membranehq/sdk'

// RPC endpoint that takes no arguments: the body must be the JSON literal null.
export default async function test({ apiClient }) {
  const account = await apiClient.post('/users/get_current_account', null)
  if (!account?.account_id) {
    throw new ConnectionError({ message: 'Dropbox did not return the current account' })
  }
  return true
}
