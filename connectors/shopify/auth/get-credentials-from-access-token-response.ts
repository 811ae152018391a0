import { ConnectionError } from '@integration-app/sdk'

interface ShopifyTokenResponse {
  access_token: string
  scope: string
  // Only online (per-user) tokens carry these; this connector asks for offline ones.
  expires_in?: number
  associated_user?: unknown
}

// The callback names the shop that approved the app. Refuse a token for any
// store other than the one the user typed, and keep the store with the
// credentials so the client does not depend on the connection input later.
export default async function getCredentialsFromAccessTokenResponse({
  tokenResponse,
  connectionParameters,
  request,
}: {
  tokenResponse: ShopifyTokenResponse
  connectionParameters: { shop: string }
  request: { query: Record<string, string> }
}) {
  const shop = connectionParameters.shop
  const returned = request?.query?.shop
  if (returned && returned !== `${shop}.myshopify.com`) {
    throw new ConnectionError({
      message: `Shopify returned the store ${returned}, but the connection is for ${shop}.myshopify.com`,
    })
  }
  if (!tokenResponse.access_token) {
    throw new ConnectionError({ message: 'Shopify answered without an access token' })
  }
  return {
    access_token: tokenResponse.access_token,
    scope: tokenResponse.scope,
    shop,
  }
}
