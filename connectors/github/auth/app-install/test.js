// An installation token cannot read /user; it can list the repositories
// the installation grants.
export default async function test({ apiClient }) {
  const out = await apiClient.get('/installation/repositories', { per_page: 1 })
  return Boolean(out && typeof out.total_count === 'number')
}
