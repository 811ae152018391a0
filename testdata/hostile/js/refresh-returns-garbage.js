// expect: must return an object of credentials
// method: refreshCredentials
// input: {"expires_at": "2001-01-01T00:00:00Z"}
export default function () { return 42 }
