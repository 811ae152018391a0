// Revoking the refresh token also revokes the access tokens issued with it.
export default async function disconnect({ credentials, apiClient }) {
  const token = credentials.refresh_token || credentials.access_token
  if (!token) return
  await apiClient.post(`${credentials.instance_url}/services/oauth2/revoke`, `token=${encodeURIComponent(token)}`, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  })
}
