import { ConnectionError } from '@integration-app/connector-sdk'

interface SlackTeam {
  id: string
  name: string
}

interface SlackOAuthV2Response {
  ok: boolean
  error?: string
  access_token: string
  token_type: string
  scope: string
  bot_user_id?: string
  app_id: string
  team?: SlackTeam | null
  enterprise?: SlackTeam | null
  is_enterprise_install?: boolean
  authed_user?: {
    id: string
    scope?: string
    access_token?: string
    token_type?: string
  }
}

// oauth.v2.access answers HTTP 200 even on failure, with ok: false.
export default async function getCredentialsFromAccessTokenResponse({
  tokenResponse,
}: {
  tokenResponse: SlackOAuthV2Response
}) {
  if (!tokenResponse.ok) {
    throw new ConnectionError({
      message: `Slack rejected the authorization: ${tokenResponse.error ?? 'unknown error'}`,
    })
  }
  return {
    access_token: tokenResponse.access_token,
    token_type: tokenResponse.token_type,
    scope: tokenResponse.scope,
    bot_user_id: tokenResponse.bot_user_id,
    team_id: tokenResponse.team?.id,
    team_name: tokenResponse.team?.name,
    enterprise_id: tokenResponse.enterprise?.id,
    user_access_token: tokenResponse.authed_user?.access_token,
  }
}
