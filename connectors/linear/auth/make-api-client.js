// One GraphQL endpoint for both ways of connecting. OAuth tokens are Bearer
// tokens; personal API keys go into Authorization as they are.
// https://linear.app/developers/graphql#authentication
export default function makeApiClient({ credentials }) {
  const authorization = credentials.apiKey
    ? credentials.apiKey
    : `Bearer ${credentials.access_token}`
  return {
    baseUri: 'https://api.linear.app/graphql',
    headers: {
      Authorization: authorization,
      'Content-Type': 'application/json',
    },
    responseHandlers: [
      // Rate limiting arrives as HTTP 400 with the RATELIMITED code.
      {
        match: {
          $and: [
            { $eval: { $var: 'response.status' }, is: 400 },
            { $eval: { $var: 'response.data.errors[0].extensions.code' }, is: 'RATELIMITED' },
          ],
        },
        isSuccess: false,
        error: { key: 'rate_limit_exceeded', message: 'Linear API rate limit exceeded' },
      },
      // GraphQL errors come with HTTP 200 too: never treat them as success.
      {
        match: { $eval: { $var: 'response.data.errors' }, isNotEmpty: true },
        isSuccess: false,
        error: {
          message: {
            $firstNotEmpty: [{ $var: 'response.data.errors[0].message' }, 'Linear GraphQL request failed'],
          },
        },
      },
    ],
  }
}
