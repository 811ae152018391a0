package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func newRequestCommand() *cobra.Command {
	var f connectFlags
	var data string
	var headers []string
	var include bool
	cmd := &cobra.Command{
		Use:   "request PATH METHOD URL-PATH [flags]",
		Short: "Send one authenticated request through a connector and print the response",
		Long: `Request builds an authenticated client for one connection and sends one
request. URL-PATH is joined to the connector's baseUri (or is an absolute URL
on a host the connector allows). Prints the response body; --include adds the
status line and headers.

Exit status: 0 on a 2xx answer, 1 otherwise, 2 for usage errors.`,
		Args: cobra.ExactArgs(3),
		Example: `  # GET through the bundled Stripe connector
  connspec request stripe GET /v1/customers --input apiKey=sk_test_123

  # POST a JSON body from a file, with an extra header, showing the response headers
  connspec request ./my-connector POST /v1/items --input apiKey=k --data @item.json -H 'Idempotency-Key: 42' --include`,
		RunE: func(cmd *cobra.Command, args []string) error {
			method := strings.ToUpper(args[1])
			body, err := requestBody(data)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), method, args[2], body)
			if err != nil {
				return usageErrorf("bad request: %v", err)
			}
			if data != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					// Not quoted: a mistyped "Authorization Bearer ..." is a credential.
					return usageErrorf("a -H header is not 'Key: value' (its text is not shown, it may hold a credential)")
				}
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			cl, err := f.connect(cmd.Context(), args[0], cmd.ErrOrStderr())
			defer f.close()
			if err != nil {
				return err
			}
			resp, err := cl.HTTPClient().Do(req)
			if err != nil {
				return &exitError{code: exitProblems, err: fmt.Errorf("%s", cl.Redact(err.Error()))}
			}
			defer resp.Body.Close()
			out := cmd.OutOrStdout()
			if include {
				fmt.Fprintf(out, "%s %s\n", resp.Proto, resp.Status)
				keys := make([]string, 0, len(resp.Header))
				for k := range resp.Header {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					for _, v := range resp.Header[k] {
						fmt.Fprintf(out, "%s: %s\n", k, v)
					}
				}
				fmt.Fprintln(out)
			}
			if _, err := io.Copy(out, resp.Body); err != nil {
				return &exitError{code: exitProblems, err: err}
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return &exitError{code: exitProblems}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&data, "data", "", "request body: JSON text, or @file to read it from a file")
	cmd.Flags().StringArrayVarP(&headers, "header", "H", nil, "extra request header 'Key: value' (repeatable)")
	cmd.Flags().BoolVar(&include, "include", false, "print the status line and response headers before the body")
	return cmd
}

func requestBody(data string) (io.Reader, error) {
	switch {
	case data == "":
		return nil, nil
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, usageErrorf("--data %s: %v", data, err)
		}
		return bytes.NewReader(b), nil
	}
	return strings.NewReader(data), nil
}
