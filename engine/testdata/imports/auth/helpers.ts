// Not a method: only read because make-api-client.ts and test.js import it.
export function authHeaders(credentials: { apiKey: string }): Record<string, string> {
  return { Authorization: `Bearer ${credentials.apiKey}` }
}

export function checkAccount(me: any): boolean {
  if (!me.id) {
    throw new Error('the account has no id')
  }
  return true
}
