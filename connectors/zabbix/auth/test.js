// user.get needs a valid session (Zabbix API reference, user.get); an
// ended or unknown one answers a JSON-RPC error instead of a result.
export default async function test({ apiClient }) {
  const res = await apiClient.post('/api_jsonrpc.php', { jsonrpc: '2.0', method: 'user.get', params: { output: ['userid'], limit: 1 }, id: 1 })
  return Boolean(res && Array.isArray(res.result) && !res.error)
}
