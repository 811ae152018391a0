package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document;
// MCP authorization 2025-11-25, "Client ID Metadata Documents"): the client
// publishes a JSON document at an https URL and uses that URL as its
// client_id; an authorization server that advertises
// client_id_metadata_document_supported fetches it and checks the
// redirect_uri against it. No registration, no secret: the client
// authenticates with none (token_endpoint_auth_method "none") and PKCE.

// WithClientIDMetadataDocument sets the URL where the embedder publishes the
// engine's client ID metadata document (see ClientIDMetadataDocument): an
// https URL with a path. A connection discovered through protectedResource
// with no clientId configured uses it as client_id when the authorization
// server supports such documents. An invalid URL is refused when used.
func WithClientIDMetadataDocument(documentURL string) Option {
	return func(e *Engine) { e.mcp.clientIDDocument = documentURL }
}

// ClientMetadata describes the client for ClientIDMetadataDocument.
type ClientMetadata struct {
	// ClientName is shown to the user by the authorization server.
	ClientName string
	// RedirectURIs are the callback URLs the client uses (at least one).
	RedirectURIs []string
	// ClientURI and LogoURI are optional https URLs.
	ClientURI, LogoURI string
}

// ClientIDMetadataDocument returns the JSON document to publish at
// documentURL: client_id (documentURL itself, as the draft's section 3
// requires), client_name, redirect_uris, grant_types (authorization_code,
// refresh_token), response_types (code) and token_endpoint_auth_method
// none.
func ClientIDMetadataDocument(documentURL string, m ClientMetadata) ([]byte, error) {
	if err := checkClientIDDocumentURL(documentURL); err != nil {
		return nil, err
	}
	if len(m.RedirectURIs) == 0 {
		return nil, errors.New("client ID metadata document: at least one redirect URI is required")
	}
	for _, r := range m.RedirectURIs {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, fmt.Errorf("client ID metadata document: redirect URI %.200q is not an absolute URL without fragment", r)
		}
	}
	doc := map[string]any{
		"client_id":                  documentURL,
		"redirect_uris":              m.RedirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	}
	if m.ClientName != "" {
		doc["client_name"] = m.ClientName
	}
	if m.ClientURI != "" {
		doc["client_uri"] = m.ClientURI
	}
	if m.LogoURI != "" {
		doc["logo_uri"] = m.LogoURI
	}
	return json.MarshalIndent(doc, "", "  ")
}

// checkClientIDDocumentURL: https with a path component (the draft's
// section 3), no fragment, no user information; plain http only on a
// loopback host (tests).
func checkClientIDDocumentURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("client ID metadata document URL %.200q is not an https URL without user information or fragment", s)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackName(u.Hostname())) {
		return fmt.Errorf("client ID metadata document URL %.200q must be https", s)
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("client ID metadata document URL %.200q must have a path (draft-ietf-oauth-client-id-metadata-document section 3)", s)
	}
	return nil
}

// applyClientIDDocument: with no clientId in raw, the engine's client ID
// metadata document URL becomes the client_id when the authorization
// server (asmd) advertises client_id_metadata_document_supported; the
// client is then public (no secret: client_id in the body, PKCE). Else raw
// is left without clientId for the next way (dynamic registration, or the
// error that names the missing clientId).
func (e *Engine) applyClientIDDocument(raw map[string]any, asmd map[string]any) error {
	if id, _ := raw["clientId"].(string); id != "" {
		return nil // configured: first choice
	}
	if s, _ := raw["clientSecret"].(string); s != "" {
		return nil // a secret without its client ID: named by the error to come
	}
	doc := e.mcp.clientIDDocument
	if doc == "" || asmd["client_id_metadata_document_supported"] != true {
		return nil
	}
	if err := checkClientIDDocumentURL(doc); err != nil {
		return err
	}
	raw["clientId"] = doc // no secret: a public client (client_id in the body)
	return nil
}
