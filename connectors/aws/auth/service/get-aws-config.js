// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
// The role is assumed through the STS endpoint of the connection's region.
export default function getAwsConfig({ connectionInput: i }) {
  const config = {
    accessKeyId: i.accessKeyId,
    secretAccessKey: i.secretAccessKey,
    region: i.region,
    service: i.service,
  }
  if (i.roleArn) {
    config.assumeRole = { roleArn: i.roleArn, externalId: i.externalId, sessionName: 'connspec', stsRegion: i.region }
  }
  return config
}
