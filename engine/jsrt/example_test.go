package jsrt_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/connspec/connspec/engine/jsrt"
)

func Example() {
	src := `import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'
import { RestApiClient } from '@integration-app/connector-sdk'

export default async function makeApiClient({ credentials }: any) {
  if (!credentials.access_token) {
    throw new ConnectionError({ message: 'no token', key: ConnectionErrorKey.ACCESS_TOKEN_EXPIRED })
  }
  return new RestApiClient({ baseUri: 'https://api.example.com', headers: { Authorization: ` + "`Bearer ${credentials.access_token}`" + ` } })
}
`
	p, problems := jsrt.Compile("make-api-client.ts", []byte(src))
	if len(problems) > 0 {
		fmt.Println(problems)
		return
	}
	fmt.Println(p.Params())

	client, err := jsrt.Call(context.Background(), p, map[string]any{"credentials": map[string]any{"access_token": "abc"}})
	fmt.Println(client, err)

	_, err = jsrt.Call(context.Background(), p, map[string]any{"credentials": map[string]any{}})
	var jsErr *jsrt.Error
	if errors.As(err, &jsErr) {
		fmt.Println(jsErr.Name, jsErr.Key, jsErr.Line)
	}
	// Output:
	// [credentials]
	// map[baseUri:https://api.example.com headers:map[Authorization:Bearer abc]] <nil>
	// ConnectionError access_token_expired 6
}
