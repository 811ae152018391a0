package main

import (
	"net/http"
	"strings"

	"github.com/connspec/connspec/engine"
)

// clientMetadataPath is where serve publishes its client ID metadata
// document (draft-ietf-oauth-client-id-metadata-document; MCP
// authorization 2025-11-25, "Client ID Metadata Documents").
const clientMetadataPath = "/oauth/client-metadata.json"

// serveCallbackPath is the server package's OAuth callback path (the
// redirect URI the document lists).
const serveCallbackPath = "/oauth/callback"

// mcpServeOptions: end users choose MCP servers, so serve refuses private
// networks unless told otherwise; with an https public URL the engine
// uses serve's client ID metadata document for servers that support it.
func mcpServeOptions(f serveFlags) []engine.Option {
	var opts []engine.Option
	if !f.allowPrivateNetworks {
		opts = append(opts, engine.WithoutPrivateNetworks())
	}
	if doc := clientMetadataURL(f.publicURL); doc != "" {
		opts = append(opts, engine.WithClientIDMetadataDocument(doc))
	}
	return opts
}

// clientMetadataURL is the document's URL, "" when the public URL is not
// https (an authorization server fetches it: it must be reachable and
// https).
func clientMetadataURL(publicURL string) string {
	if !strings.HasPrefix(publicURL, "https://") {
		return ""
	}
	return strings.TrimSuffix(publicURL, "/") + clientMetadataPath
}

// withClientMetadata serves the client ID metadata document in front of h.
func withClientMetadata(h http.Handler, publicURL string) http.Handler {
	doc := clientMetadataURL(publicURL)
	if doc == "" {
		return h
	}
	body, err := engine.ClientIDMetadataDocument(doc, engine.ClientMetadata{
		ClientName:   "connspec",
		RedirectURIs: []string{strings.TrimSuffix(publicURL, "/") + serveCallbackPath},
	})
	if err != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != clientMetadataPath || r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(body)
	})
}
