// expect: invalid method
export default async function ({ apiClient }) {
  return apiClient.makeRequest('GET /x HTTP/1.1\r\nX:', '/me')
}
