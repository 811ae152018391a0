// Fetch the account itself. Its URL is the base URI plus ".json", which a
// relative path cannot express, so the absolute URL is used (same host).
export default async function test({ credentials, apiClient }) {
  const sid = credentials.accountSid
  const account = await apiClient.get(`https://api.twilio.com/2010-04-01/Accounts/${sid}.json`)
  // Suspended or closed accounts still authenticate but cannot be used.
  return account?.sid === sid && account?.status === 'active'
}
