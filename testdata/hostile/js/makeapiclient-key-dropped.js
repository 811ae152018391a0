// expect: which connspec does not use
// method: makeApiClient
// phase: client
// A key the engine would drop (the API key in defaultHeaders) is refused by name; its value, the canary, stays out of the error.
export default function ({ credentials }) { return { baseUri: '{{URL}}', defaultHeaders: { 'X-Api-Key': credentials.apiKey } } }
