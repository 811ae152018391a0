import { authHeaders } from './helpers'
import { apiBase } from '../lib/urls'

export default function makeApiClient({ credentials, connectorParameters }) {
  return {
    baseUri: apiBase(connectorParameters),
    headers: authHeaders(credentials),
  }
}
