package server

import (
	_ "embed"
	"net/http"
)

// The admin API's contract. docs/admin-api.openapi.json is a copy that a
// test keeps current.
//
//go:generate cp openapi.json ../docs/admin-api.openapi.json
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document of the admin API (JSON), the one
// served at GET /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// openAPI serves the contract without the API key: it is the same document
// as the repository's docs/admin-api.openapi.json and tells nothing about
// this deployment, and tools (code generators, API explorers) fetch it
// without credentials.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPIDocument)
}

// route is one registered pattern and whether it needs the API key.
type route struct {
	Pattern     string
	KeyRequired bool
}
