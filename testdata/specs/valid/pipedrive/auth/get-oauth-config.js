// Scopes are configured on the app in the Developer Hub, so none are requested here.
export default function getOAuthConfig({ connectorParameters, redirectUri, state }) {
  return {
    clientId: connectorParameters.clientId,
    clientSecret: connectorParameters.clientSecret,
    authorizeUri: 'https://oauth.pipedrive.com/oauth/authorize',
    tokenUri: 'https://oauth.pipedrive.com/oauth/token',
    // Pipedrive expects the client credentials as HTTP basic auth on the token endpoint.
    clientAuthLocation: 'headers',
    extra: {},
  }
}
