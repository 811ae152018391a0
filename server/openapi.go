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

// routeMux is the server's ServeMux, remembering every pattern registered,
// so a test can hold them all against the OpenAPI document.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

// Handle registers handler for pattern and remembers the pattern.
func (m *routeMux) Handle(pattern string, handler http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, handler)
}

// HandleFunc registers f for pattern and remembers the pattern.
func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}
