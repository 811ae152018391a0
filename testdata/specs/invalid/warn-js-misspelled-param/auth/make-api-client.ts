import { RestApiClient } from '@integration-app/connector-sdk'

export default function makeApiClient({ credentails }: { credentails: { apiKey: string } }) {
  return new RestApiClient({
    baseUri: 'https://api.acme.example/v1',
    headers: { Authorization: `Bearer ${credentails?.apiKey}` },
  })
}
