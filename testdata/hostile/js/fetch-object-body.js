// expect: the body must be a string or URLSearchParams, not an object
export default async function ({ connectionInput }) {
  return await fetch("{{URL}}/login", { method: "POST", body: { apiKey: connectionInput.apiKey } })
}
