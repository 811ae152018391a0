// expect: both baseUri and baseUrl
// method: makeApiClient
// phase: client
// baseUrl is baseUri's documented alias: both at once would make one of them win silently.
export default function ({ credentials }) { return { baseUri: '{{URL}}', baseUrl: '{{EVIL}}', headers: { 'X-Api-Key': credentials.apiKey } } }
