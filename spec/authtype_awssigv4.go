package spec

// MethodGetAwsConfig is the aws-sigv4 type's configuration method: it
// returns the AWS credentials, the region and service a request is signed
// for, how it is signed, and an optional STS AssumeRole step.
const MethodGetAwsConfig = "getAwsConfig"

// AwsConfigKeys are the keys getAwsConfig's result may have; any other key
// is an error (a misspelt "regoin" would otherwise sign for the wrong
// region without a word).
var AwsConfigKeys = []string{
	"accessKeyId", "secretAccessKey", "sessionToken", "region", "service",
	"signing", "expires", "payload", "canonicalPath", "assumeRole",
}

// AwsAssumeRoleKeys are the keys getAwsConfig's assumeRole object may have.
var AwsAssumeRoleKeys = []string{"roleArn", "externalId", "sessionName", "duration", "stsRegion"}

func init() {
	RegisterAuthType(AuthType{
		Name:  "aws-sigv4",
		Title: "AWS Signature Version 4: every request signed with AWS credentials, optionally a role's temporary credentials from STS AssumeRole (connspec extension)",
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetAwsConfig: {
				Required:        true,
				Implementations: anyImpl,
				Inputs:          []string{"connectorParameters", "connectionInput", "connectionParameters"},
				ResultKeys:      AwsConfigKeys,
			},
		}),
	})
}
