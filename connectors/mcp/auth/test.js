// MCP lifecycle: initialize is the first request of every session, so any
// MCP server answers it; a result with serverInfo means the token worked.
export default async function test({ apiClient }) {
  const res = await apiClient.post('', {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'connspec', version: '1' } },
  })
  return Boolean(res && res.result && res.result.serverInfo)
}
