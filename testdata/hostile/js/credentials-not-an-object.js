// expect: must return an object of credentials
// method: getCredentialsFromConnectionParameters
export default function () { return "canary-not-an-object" }
