import { ConnectionError } from '@integration-app/sdk'

// The GraphQL Admin API answers 200 with an errors array for query problems.
export default async function test({ apiClient }: { apiClient: any }): Promise<boolean> {
  const res = await apiClient.post('/graphql.json', {
    query: '{ shop { name myshopifyDomain } }',
  })
  if (res?.errors) {
    const first = Array.isArray(res.errors) ? res.errors[0]?.message : String(res.errors)
    throw new ConnectionError({ message: `Shopify GraphQL error: ${first}` })
  }
  return Boolean(res?.data?.shop?.myshopifyDomain)
}
