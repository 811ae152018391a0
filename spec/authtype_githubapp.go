package spec

import "go.yaml.in/yaml/v3"

// MethodGetGitHubAppConfig returns a github-app connection's app and
// installation: appId, privateKey, installationId, apiBase, repositories,
// permissions; or, for the install flow, appSlug, clientId and
// clientSecret instead of installationId.
const MethodGetGitHubAppConfig = "getGitHubAppConfig"

// GitHubAppConfigKeys are the keys getGitHubAppConfig's result may have;
// validate refuses any other in a literal mapping, the engine at run time.
var GitHubAppConfigKeys = []string{"apiBase", "appId", "appSlug", "clientId", "clientSecret", "installationId", "permissions", "privateKey", "repositories"}

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
				WhyRequired:     "it names the app (appId, privateKey) and the installation (installationId, or appSlug for the install flow) whose tokens the connection uses",
				CheckMapping:    checkGitHubAppInstallFlow,
			},
		}),
	})
}

// GitHubAppInstallFlow reports whether a's connections are made through the
// GitHub App install flow: it is github-app and its getGitHubAppConfig is a
// literal mapping with appSlug. The flow must be known statically (the
// connect page redirects or shows a form before any method runs).
func GitHubAppInstallFlow(a *Auth) bool {
	if a == nil || a.Type != "github-app" {
		return false
	}
	n := literalMapping(a.Methods[MethodGetGitHubAppConfig])
	return n != nil && mappingValue(n, "appSlug") != nil
}

// literalMapping is m's body when it is a literal mapping (not a formula).
func literalMapping(m *Method) *yaml.Node {
	if m == nil || m.ImplementationType != ImplMapping || m.Mapping == nil || m.Mapping.Kind != yaml.MappingNode || isFormulaNode(m.Mapping) {
		return nil
	}
	return m.Mapping
}

// checkGitHubAppInstallFlow refuses an install-flow config that gives an
// installation id too (which one would the connection act as?) or lacks the
// app's OAuth client, without which the installer cannot be verified.
func checkGitHubAppInstallFlow(file string, n *yaml.Node) Diagnostics {
	var slug *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "appSlug" {
			slug = n.Content[i]
		}
	}
	if slug == nil {
		return nil
	}
	var diags Diagnostics
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "installationId" {
			at := Pos{File: file, Line: k.Line, Column: k.Column}
			diags = append(diags, at.Errorf("", "getGitHubAppConfig: installationId and appSlug exclude each other: with appSlug the installation comes from the install flow (verified with the installer's sign-in); remove one"))
		}
	}
	for _, key := range []string{"clientId", "clientSecret"} {
		if mappingValue(n, key) == nil {
			at := Pos{File: file, Line: slug.Line, Column: slug.Column}
			diags = append(diags, at.Errorf("", "getGitHubAppConfig: appSlug (the install flow) needs %s, the GitHub App's OAuth client, to verify that the user who installed the app can access the installation", key))
		}
	}
	return diags
}
