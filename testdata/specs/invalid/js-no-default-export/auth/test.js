// Named export whose name is not the method's: the engine needs `export default`,
// `module.exports = function`, or an export named `test`.
export async function check({ apiClient }) {
  const me = await apiClient.get('/me')
  return Boolean(me?.id)
}
