const { checkAccount } = require('./helpers')

module.exports = async function test({ apiClient }) {
  const me = await apiClient.get('/me')
  return checkAccount(me)
}
