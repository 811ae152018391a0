import { ConnectionError } from '@integration-app/connector-sdk'

interface SlackTeam {
  id: string
  name?: string
}

interface SlackAuthedUser {
  id: string
  scope?: string
  access_token?: string
  token_type?: string
  refresh_token?: string
  expires_in?: number
}

interface OAuthV2AccessResponse {
  ok: boolean
  error?: string
  access_token?: string
  token_type?: string
  scope?: string
  refresh_token?: string
  expires_in?: number
  bot_user_id?: string
  app_id?: string
  team?: SlackTeam | null
  enterprise?: SlackTeam | null
  is_enterprise_install?: boolean
  authed_user?: SlackAuthedUser
}

// oauth.v2.access puts the bot token at the top level and the installing
// user's token (only when user scopes were requested) under authed_user.
// Both are kept; the bot token is the one the API client sends.
export default async function getCredentialsFromAccessTokenResponse({
  tokenResponse,
}: {
  tokenResponse: OAuthV2AccessResponse
}) {
  // Slack answers HTTP 200 with ok: false on failure.
  if (!tokenResponse.ok) {
    throw new ConnectionError({
      message: `Slack rejected the installation: ${tokenResponse.error ?? 'unknown error'}`,
    })
  }
  const user = tokenResponse.authed_user
  const credentials: Record<string, unknown> = {
    access_token: tokenResponse.access_token,
    token_type: tokenResponse.token_type,
    scope: tokenResponse.scope,
    bot_user_id: tokenResponse.bot_user_id,
    app_id: tokenResponse.app_id,
    team_id: tokenResponse.team?.id,
    team_name: tokenResponse.team?.name,
    enterprise_id: tokenResponse.enterprise?.id,
    is_enterprise_install: tokenResponse.is_enterprise_install ?? false,
    authed_user_id: user?.id,
  }
  if (user?.access_token) {
    credentials.user_access_token = user.access_token
    credentials.user_scope = user.scope
    if (user.refresh_token) {
      credentials.user_refresh_token = user.refresh_token
    }
    if (user.expires_in) {
      credentials.user_token_expires_at = new Date(Date.now() + user.expires_in * 1000).toISOString()
    }
  }
  // refresh_token and expires_at of the bot token are filled in by the engine.
  return credentials
}
