package spec

// MethodGetGitHubAppConfig returns a github-app connection's app and
// installation: appId, privateKey, installationId, apiBase, repositories,
// permissions.
const MethodGetGitHubAppConfig = "getGitHubAppConfig"

// github-app (a connspec extension): GitHub App installation access tokens,
// minted with the app's private key and renewed before their one-hour
// expiry. The engine half is engine/kind_githubapp.go.
func init() {
	RegisterAuthType(AuthType{
		Name:  "github-app",
		Title: "GitHub App installation (connspec extension)",
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetGitHubAppConfig: {
				Required:        true,
				Implementations: anyImpl,
				Inputs:          []string{"connectorParameters", "connectionInput", "connectionParameters"},
				WhyRequired:     "it names the app (appId, privateKey) and the installation (installationId) whose tokens the connection uses",
			},
		}),
	})
}
