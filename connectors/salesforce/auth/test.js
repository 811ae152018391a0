// The OpenID Connect userinfo endpoint lives on the instance host, outside
// the versioned REST path, and answers for any valid token.
export default async function test({ credentials, apiClient }) {
  const me = await apiClient.get(`${credentials.instance_url}/services/oauth2/userinfo`)
  return Boolean(me && me.user_id)
}
