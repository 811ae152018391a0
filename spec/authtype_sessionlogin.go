package spec

// MethodGetSessionLoginConfig is the session-login type's configuration
// method: it returns the login steps (requests whose answers give a
// session token) and how long the session lives.
const MethodGetSessionLoginConfig = "getSessionLoginConfig"

// SessionLoginConfigKeys are the keys getSessionLoginConfig's result may
// have; any other key is an error (a misspelt "lifetme" would otherwise
// leave the session to expire unannounced).
var SessionLoginConfigKeys = []string{"steps", "lifetime", "refreshMargin"}

// SessionLoginStepKeys are the keys of one login step.
var SessionLoginStepKeys = []string{"name", "url", "method", "headers", "query", "basicAuth", "json", "form", "extract", "refusedWhen"}

func init() {
	RegisterAuthType(AuthType{
		Name:  "session-login",
		Title: "Session login: credentials the user typed are exchanged for a session token by one or more login requests, repeated when the session expires (connspec extension)",
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetSessionLoginConfig: {
				Required:        true,
				Implementations: anyImpl,
				Inputs:          []string{"connectorParameters", "connectionInput", "connectionParameters"},
				ResultKeys:      SessionLoginConfigKeys,
			},
		}),
	})
}
