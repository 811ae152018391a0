package jsrt

import (
	"context"
	"fmt"
	"testing"
)

func TestSmoke(t *testing.T) {
	src := `import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'
import { RestApiClient } from '@integration-app/connector-sdk'
interface X { a: number }
export default async function makeApiClient({ credentials, connectorParameters }: any) {
  const y = { ...credentials, z: credentials?.a ?? 1 } as any
  if (!credentials.access_token) throw new ConnectionError({ message: 'no token', key: ConnectionErrorKey.ACCESS_TOKEN_EXPIRED })
  return new RestApiClient({ baseUri: 'https://api.example.com', headers: { Authorization: ` + "`Bearer ${credentials.access_token}`" + ` } })
}
`
	p, probs := Compile("auth/m.ts", []byte(src))
	fmt.Println(probs, p.Params())
	for _, fresh := range []bool{false, true} {
		out, err := p.Call(context.Background(), map[string]any{"credentials": map[string]any{"access_token": "t"}}, Options{FreshRuntime: fresh})
		fmt.Println(out, err)
		out, err = p.Call(context.Background(), map[string]any{"credentials": map[string]any{}}, Options{FreshRuntime: fresh})
		fmt.Printf("%v %#v\n", out, err)
	}
}
