package jwtgrant

import (
	"github.com/connspec/connspec/internal/endpoint"

	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// GoogleTokenURI is the token endpoint of Google service-account key files.
const GoogleTokenURI = "https://oauth2.googleapis.com/token"

// maxKeyFile bounds a service-account key file (they are about 2.3 KiB).
const maxKeyFile = 64 << 10

// ServiceAccount is a Google service-account JSON key file, read into what
// the JWT bearer grant needs.
type ServiceAccount struct {
	// ClientEmail is client_email, the assertion's issuer.
	ClientEmail string
	// TokenURI is token_uri, the token endpoint and the assertion's
	// audience. It comes from a file the user supplied: check its host
	// against the connector's host policy before sending to it.
	TokenURI string
	// ProjectID is project_id ("" when absent).
	ProjectID string
	// Key is private_key, signing RS256, with private_key_id as its kid.
	Key *Key
}

// serviceAccountFile is the JSON layout of the key file.
type serviceAccountFile struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ParseServiceAccount reads a Google service-account JSON key file. type
// must be "service_account" (an "authorized_user" or "external_account" file
// is refused by name), client_email and private_key are required, token_uri
// defaults to GoogleTokenURI and must be an absolute https URL. Errors name
// the field, never its value.
func ParseServiceAccount(data []byte) (*ServiceAccount, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("jwtgrant: service-account key file is larger than %d bytes", maxKeyFile)
	}
	var f serviceAccountFile
	if err := json.Unmarshal(data, &f); err != nil {
		// json's text may quote the input; say only where it failed.
		return nil, errors.New("jwtgrant: service-account key file is not a JSON object with string fields")
	}
	switch {
	case f.Type == "":
		return nil, errors.New(`jwtgrant: service-account key file has no "type"; expected "service_account"`)
	case f.Type != "service_account":
		return nil, fmt.Errorf(`jwtgrant: key file has type %q; a service-account key ("service_account") is needed`, endpoint.CleanText(f.Type))
	case f.ClientEmail == "":
		return nil, errors.New("jwtgrant: service-account key file has no client_email")
	case f.PrivateKey == "":
		return nil, errors.New("jwtgrant: service-account key file has no private_key")
	}
	if f.TokenURI == "" {
		f.TokenURI = GoogleTokenURI
	}
	if u, err := url.Parse(f.TokenURI); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("jwtgrant: service-account key file's token_uri must be an absolute https URL")
	}
	key, err := ParsePrivateKey([]byte(f.PrivateKey), "RS256")
	if err != nil {
		return nil, fmt.Errorf("jwtgrant: service-account key file's private_key: %s", strings.TrimPrefix(err.Error(), "jwtgrant: "))
	}
	key.KeyID = f.PrivateKeyID
	return &ServiceAccount{ClientEmail: f.ClientEmail, TokenURI: f.TokenURI, ProjectID: f.ProjectID, Key: key}, nil
}

// Claims are the assertion claims Google expects (developers.google.com
// /identity/protocols/oauth2/service-account, "Forming the JWT"): iss the
// service account, aud the token URI, scope the scopes joined by spaces,
// and sub the user to impersonate with domain-wide delegation ("" for
// none). Lifetime is one hour at most there; DefaultLifetime is used.
func (sa *ServiceAccount) Claims(scopes []string, subject string) Claims {
	return Claims{
		Issuer:   sa.ClientEmail,
		Subject:  subject,
		Audience: []string{sa.TokenURI},
		Scope:    strings.Join(scopes, " "),
	}
}
