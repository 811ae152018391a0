export function apiBase(params) {
  return params.apiBase + '/v1'
}
