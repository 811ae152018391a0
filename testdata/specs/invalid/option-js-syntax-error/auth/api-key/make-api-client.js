export default function makeApiClient({ credentials }) {
  return {
    baseUri: 'https://api.acme.example/v1',
    headers: {
      'X-Api-Key': credentials.apiKey
      'Accept': 'application/json',
    },
  }
}
