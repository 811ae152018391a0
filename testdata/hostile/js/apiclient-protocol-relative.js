// accept: a "//host/x" path is joined to the API base URL, never sent elsewhere
export default async function ({ apiClient }) { const r = await apiClient.get("//evil.example/steal"); return r.ok === true }
