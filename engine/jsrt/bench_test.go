package jsrt

import (
	"context"
	"testing"
)

const benchSource = `import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'
import { RestApiClient } from '@integration-app/connector-sdk'

interface Credentials { access_token?: string; api_key?: string }

export default async function makeApiClient({ credentials, connectorParameters }: { credentials: Credentials; connectorParameters: any }) {
  if (!credentials.access_token) {
    throw new ConnectionError({ message: 'no token', key: ConnectionErrorKey.ACCESS_TOKEN_EXPIRED })
  }
  return new RestApiClient({
    baseUri: connectorParameters.baseUri ?? 'https://api.example.com',
    headers: {
      Authorization: ` + "`Bearer ${credentials.access_token}`" + `,
      'X-Api-Key': btoa(credentials.api_key as string),
    },
  })
}
`

var benchInput = map[string]any{
	"credentials":         map[string]any{"access_token": "tok", "api_key": "key"},
	"connectorParameters": map[string]any{"baseUri": "https://eu.example.com"},
}

func BenchmarkCall(b *testing.B) {
	p, probs := Compile("make-api-client.ts", []byte(benchSource))
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	for _, mode := range []struct {
		name  string
		fresh bool
	}{{"pooled", false}, {"fresh", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := p.Call(ctx, benchInput, Options{FreshRuntime: mode.fresh}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompileTS(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, probs := Compile("make-api-client.ts", []byte(benchSource)); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}
