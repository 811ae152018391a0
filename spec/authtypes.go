package spec

import (
	"maps"
	"slices"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Implementation types of a method.
const (
	ImplMapping        = "mapping"
	ImplJavaScript     = "javascript"
	ImplExpr           = "expr"
	ImplRestAPIMapping = "rest-api-mapping"
	// ImplOperationMapping (a body that runs one of the connector's API
	// operations, file *.op.yml) is recognised so that validate can refuse
	// it by name; connspec has no API operations to run.
	ImplOperationMapping = "operation-mapping"
)

// MethodRule says how one method may appear in an auth block of a type.
type MethodRule struct {
	// Required methods must be present (in the block or, for options, inherited).
	Required bool
	// Implementations lists the allowed implementation types.
	Implementations []string
	// Inputs are the variables the method receives; formulas and
	// expressions reading anything else get a warning.
	Inputs []string
	// Inherited methods of an option fall back to the base auth block.
	Inherited bool
	// WhyRequired, when set, explains in the missing-method error why a
	// required method cannot be left out.
	WhyRequired string
	// ResultKeys, when set, are the only keys the method's result may
	// have: a literal mapping with another key is refused at load.
	ResultKeys []string
	// CheckMapping, when set, checks a literal mapping body of the method
	// at load (after ResultKeys): its literal values (enumerations,
	// templates) and the rules between its keys.
	CheckMapping func(file string, mapping *yaml.Node) Diagnostics
}

// AuthType describes one auth type: its name, aliases and the methods it
// allows. The same table drives validation here and execution in the engine.
type AuthType struct {
	Name    string
	Aliases []string
	Title   string
	Methods map[string]MethodRule
	// RequiresProxyKey is set for the proxy type.
	RequiresProxyKey bool
}

// Method names.
const (
	MethodMakeAPIClient                          = "makeApiClient"
	MethodTest                                   = "test"
	MethodRefreshCredentials                     = "refreshCredentials"
	MethodGetCredentialsFromConnectionParameters = "getCredentialsFromConnectionParameters"
	MethodDisconnect                             = "disconnect"
	MethodGetOAuthConfig                         = "getOAuthConfig"
	MethodGetTokenData                           = "getTokenData"
	MethodGetCredentialsFromAccessTokenResponse  = "getCredentialsFromAccessTokenResponse"
	MethodGetCredentialsFromRefreshTokenResponse = "getCredentialsFromRefreshTokenResponse"
)

// methodAliases are the other names integration.app's docs give methods,
// by the method they stand for: the OAuth2 page declares
// getCredentialsFromTokenResponse and implements it in
// auth/get-credentials-from-token-response.js
// (console.integration.app/docs/connector-builder/authentication/types/oauth2,
// "Configuration" and "Custom Credentials Extraction").
var methodAliases = map[string]string{
	"getCredentialsFromTokenResponse": MethodGetCredentialsFromAccessTokenResponse,
}

// MethodName returns the method a name in a spec stands for: the name
// itself or the method an alias stands for.
func MethodName(name string) string {
	if m, ok := methodAliases[name]; ok {
		return m
	}
	return name
}

// MethodAliases returns the other names the docs give method, sorted (a
// JavaScript module may export its function under any of them).
func MethodAliases(method string) []string { return methodAliasesOf(method) }

// methodAliasesOf returns the aliases of method, sorted.
func methodAliasesOf(method string) []string {
	var out []string
	for a, m := range methodAliases {
		if m == method {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

var (
	clientInputs = []string{"credentials", "connectorParameters", "connectionParameters", "connectionInput"}
	oauthInputs  = []string{"connectorParameters", "connectionInput", "connectionParameters", "redirectUri", "state"}
	// oauth2ConfigInputs add the connection's credentials: the token
	// exchange grant maps its subject token from them (a connspec extension).
	oauth2ConfigInputs = append(slices.Clone(oauthInputs), "credentials")
	anyImpl            = []string{ImplMapping, ImplExpr, ImplJavaScript}
	// apiInputs are for methods run on a live connection: the docs name its
	// client apiClient (auth method pages) and externalApiClient (JavaScript
	// page); the engine passes both.
	apiInputs = append(slices.Clone(clientInputs), "apiClient", "externalApiClient")
)

// commonMethods are allowed for every auth type.
func commonMethods() map[string]MethodRule {
	m := map[string]MethodRule{
		MethodMakeAPIClient:      {Required: true, Implementations: anyImpl, Inputs: clientInputs, Inherited: true},
		MethodTest:               {Implementations: []string{ImplJavaScript, ImplMapping, ImplRestAPIMapping}, Inputs: apiInputs, Inherited: true},
		MethodRefreshCredentials: {Implementations: []string{ImplJavaScript}, Inputs: apiInputs},
		MethodDisconnect:         {Implementations: []string{ImplJavaScript}, Inputs: apiInputs, Inherited: true},
	}
	m[MethodGetClientCertificate] = clientCertificateRule() // a layer under every type (clientcert.go)
	return m
}

func withMethods(base map[string]MethodRule, extra map[string]MethodRule) map[string]MethodRule {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}

var (
	authTypesMu sync.RWMutex
	authTypes   = map[string]*AuthType{}
)

func init() {
	credsFromParams := MethodRule{Implementations: anyImpl, Inputs: []string{"connectorParameters", "connectionParameters", "connectionInput"}}
	RegisterAuthType(AuthType{
		Name:    "client-credentials",
		Title:   "API key, basic auth or other credentials typed by the user",
		Methods: withMethods(commonMethods(), map[string]MethodRule{MethodGetCredentialsFromConnectionParameters: credsFromParams}),
	})
	RegisterAuthType(AuthType{
		Name:  "oauth2",
		Title: "OAuth 2.0",
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetCredentialsFromConnectionParameters: credsFromParams,
			MethodGetOAuthConfig:                         {Required: true, Implementations: anyImpl, Inputs: oauth2ConfigInputs},
			MethodGetTokenData:                           {Implementations: anyImpl, Inputs: []string{"connectorParameters", "connectionParameters", "connectionInput", "codeVerifier", "queryParameters", "redirectUri"}},
			MethodGetCredentialsFromAccessTokenResponse:  {Implementations: anyImpl, Inputs: []string{"tokenResponse", "connectorParameters", "connectionParameters", "connectionInput", "queryParameters", "request"}},
			MethodGetCredentialsFromRefreshTokenResponse: {Implementations: anyImpl, Inputs: []string{"tokenResponse", "credentials", "connectorParameters", "connectionParameters"}},
		}),
	})
	RegisterAuthType(AuthType{
		Name:  "oauth1",
		Title: "OAuth 1.0a",
		// getCredentialsFromConnectionParameters is a connspec extension for
		// oauth1: token-based auth whose tokens the user types (NetSuite TBA).
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetOAuthConfig:                         {Required: true, Implementations: anyImpl, Inputs: oauthInputs},
			MethodGetCredentialsFromConnectionParameters: credsFromParams,
		}),
	})
	// A proxy with only proxyKey uses the underlying connection's client
	// as it is (integration.app's proxy type); makeApiClient adds to it.
	proxyMethods := commonMethods()
	proxyClient := proxyMethods[MethodMakeAPIClient]
	proxyClient.Required = false
	proxyMethods[MethodMakeAPIClient] = proxyClient
	// A proxy's requests go out on the wire of the connection it rides on,
	// with that connection's client certificate.
	delete(proxyMethods, MethodGetClientCertificate)
	RegisterAuthType(AuthType{
		Name:             "proxy",
		Title:            "Rides on a connection of another connector",
		Methods:          proxyMethods,
		RequiresProxyKey: true,
	})
	// The docs show this type without makeApiClient and say the token
	// header goes to "your API", but name no URL for it: connspec asks for
	// makeApiClient rather than guess one.
	appTokenMethods := commonMethods()
	appTokenClient := appTokenMethods[MethodMakeAPIClient]
	appTokenClient.WhyRequired = "the integration.app and Membrane docs send the token to \"your API\" and name no default URL for it, so connspec needs makeApiClient with the API's baseUri"
	appTokenMethods[MethodMakeAPIClient] = appTokenClient
	RegisterAuthType(AuthType{
		Name:    "integration-app-token",
		Aliases: []string{"membrane-token"},
		Title:   "integration.app / Membrane token",
		Methods: appTokenMethods,
	})
}

// RegisterAuthType adds an auth type (or replaces one of the same name).
// It is meant to be called from init functions. The loader accepts every
// registered type (the embedded schema lists the built-in ones); the engine
// runs a type through the engine.Kind registered under the same name.
func RegisterAuthType(t AuthType) {
	authTypesMu.Lock()
	defer authTypesMu.Unlock()
	tt := t
	authTypes[t.Name] = &tt
	for _, a := range t.Aliases {
		authTypes[a] = &tt
	}
}

// LookupAuthType returns the auth type registered under name or an alias.
func LookupAuthType(name string) (*AuthType, bool) {
	authTypesMu.RLock()
	defer authTypesMu.RUnlock()
	t, ok := authTypes[name]
	return t, ok
}

// AuthTypeNames returns every registered name and alias, sorted.
func AuthTypeNames() []string {
	authTypesMu.RLock()
	defer authTypesMu.RUnlock()
	return slices.Sorted(maps.Keys(authTypes))
}

// AllMethodNames returns every method name any registered type allows, sorted.
func AllMethodNames() []string {
	authTypesMu.RLock()
	defer authTypesMu.RUnlock()
	set := map[string]bool{}
	for _, t := range authTypes {
		for m := range t.Methods {
			set[m] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// MethodNames returns the methods t allows, sorted.
func (t *AuthType) MethodNames() []string { return slices.Sorted(maps.Keys(t.Methods)) }
