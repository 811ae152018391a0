package spec

// MethodGetJWTBearerConfig is the jwt-bearer type's configuration method:
// it returns what the JWT bearer grant (RFC 7523 section 2.1) signs and
// where it sends the assertion.
const MethodGetJWTBearerConfig = "getJwtBearerConfig"

// JWTBearerConfigKeys are the keys getJwtBearerConfig's result may have;
// any other key is an error (a misspelt "subjet" would otherwise mint a
// token for the wrong user without a word).
var JWTBearerConfigKeys = []string{
	"tokenUri", "issuer", "subject", "audience", "scopes", "privateKey", "keyId",
	"algorithm", "lifetime", "tokenParams", "serviceAccountKey",
}

func init() {
	RegisterAuthType(AuthType{
		Name:  "jwt-bearer",
		Title: "JWT bearer assertion grant (RFC 7523): a signed assertion exchanged for access tokens, such as a Google service account (connspec extension)",
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetJWTBearerConfig: {
				Required:        true,
				Implementations: anyImpl,
				Inputs:          []string{"connectorParameters", "connectionInput", "connectionParameters"},
				ResultKeys:      JWTBearerConfigKeys,
			},
		}),
	})
}
