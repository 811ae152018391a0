package spec

// MethodGetGitHubAppConfig returns a github-app connection's app and
// installation: appId, privateKey, installationId, apiBase, repositories,
// permissions.
const MethodGetGitHubAppConfig = "getGitHubAppConfig"

// GitHubAppConfigKeys are the keys getGitHubAppConfig's result may have;
// validate refuses any other in a literal mapping, the engine at run time.
var GitHubAppConfigKeys = []string{"apiBase", "appId", "installationId", "permissions", "privateKey", "repositories"}

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
				ResultKeys:      GitHubAppConfigKeys,
				WhyRequired:     "it names the app (appId, privateKey) and the installation (installationId) whose tokens the connection uses",
			},
		}),
	})
}
