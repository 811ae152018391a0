// expect: refusing to send credentials
export default async function ({ apiClient }) { return await apiClient.get("{{EVIL}}") }
