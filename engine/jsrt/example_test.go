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

func ExampleHostFunc() {
	src := `import { ConnectionError } from '@integration-app/sdk'

export default async function getMe({ apiClient }) {
  try {
    return await apiClient.get('/me')
  } catch (e) {
    if (e instanceof ConnectionError && e.key === 'rate_limit_exceeded') return null
    throw e
  }
}
`
	p, problems := jsrt.Compile("get-me.js", []byte(src))
	if len(problems) > 0 {
		fmt.Println(problems)
		return
	}
	client := func(status int) map[string]any {
		return map[string]any{
			"get": jsrt.HostFunc(func(ctx context.Context, args []any) (any, error) {
				switch status {
				case 429:
					return nil, &jsrt.Error{Name: "ConnectionError", Message: "slow down", Key: "rate_limit_exceeded"}
				case 401:
					return nil, &jsrt.Error{Name: "ConnectionError", Message: "expired", Key: "access_token_expired"}
				}
				return map[string]any{"path": args[0], "name": "Ada"}, nil
			}),
		}
	}
	for _, status := range []int{200, 429, 401} {
		me, err := jsrt.Call(context.Background(), p, map[string]any{"apiClient": client(status)})
		var jsErr *jsrt.Error
		if errors.As(err, &jsErr) {
			fmt.Println(status, jsErr.Name, jsErr.Key)
			continue
		}
		fmt.Println(status, me)
	}
	// Output:
	// 200 map[name:Ada path:/me]
	// 429 <nil>
	// 401 ConnectionError access_token_expired
}
