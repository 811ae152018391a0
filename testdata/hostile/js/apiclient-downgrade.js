// expect: refusing to send credentials
// method: test
export default async function ({ apiClient }) { return await apiClient.get("ftp://evil.example/x") }
