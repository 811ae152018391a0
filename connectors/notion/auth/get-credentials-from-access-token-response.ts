import { ConnectionError } from '@integration-app/sdk'

interface NotionTokenResponse {
  access_token: string
  token_type: string
  refresh_token?: string | null
  bot_id: string
  workspace_id: string
  workspace_name?: string | null
  workspace_icon?: string | null
  duplicated_template_id?: string | null
  owner?: {
    type: 'user' | 'workspace'
    user?: { id: string; name?: string; person?: { email?: string } }
  }
}

// Keep the workspace and the bot; they identify the connection in Notion
// (a second authorization of the same workspace gives the same bot_id).
export default async function getCredentialsFromAccessTokenResponse({
  tokenResponse,
}: {
  tokenResponse: NotionTokenResponse
}) {
  if (!tokenResponse.access_token) {
    throw new ConnectionError({ message: 'Notion returned no access token' })
  }
  const user = tokenResponse.owner?.type === 'user' ? tokenResponse.owner.user : undefined
  return {
    access_token: tokenResponse.access_token,
    token_type: tokenResponse.token_type,
    bot_id: tokenResponse.bot_id,
    workspace_id: tokenResponse.workspace_id,
    workspace_name: tokenResponse.workspace_name ?? '',
    owner_user_id: user?.id,
    owner_email: user?.person?.email,
    duplicated_template_id: tokenResponse.duplicated_template_id ?? undefined,
  }
}
