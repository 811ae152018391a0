// instance_url comes with the token response and differs per org.
export default function makeApiClient({ credentials, connectorParameters }) {
  const version = connectorParameters.apiVersion || 'v60.0'
  return {
    baseUri: `${credentials.instance_url}/services/data/${version}`,
    headers: {
      Authorization: `Bearer ${credentials.access_token}`,
      Accept: 'application/json',
    },
  }
}
