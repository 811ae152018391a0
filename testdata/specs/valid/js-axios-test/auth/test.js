import { ConnectionError } from '@integration-app/sdk'
import axios from 'axios'

export default async function test({ credentials }) {
  const res = await axios.get('https://api.acme.example/v1/me', {
    headers: { 'X-Api-Key': credentials.apiKey },
  })
  if (res.status !== 200) {
    throw new ConnectionError({ message: `unexpected status ${res.status}` })
  }
  return true
}
