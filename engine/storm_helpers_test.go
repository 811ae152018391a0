package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// getConcurrently sends n GETs of path at once, alternating between
// clients (one per engine sharing a store), and fails the test for any
// error or, when want is not empty, any answer other than want.
func getConcurrently(t *testing.T, clients []*Client, n int, path, want string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			out, err := clients[i%len(clients)].Get(context.Background(), path)
			if err == nil && want != "" && fmt.Sprint(out) != want {
				err = fmt.Errorf("got %v", out)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
