// expect: time limit exceeded
// method: refreshCredentials
// input: {"expires_at": "2001-01-01T00:00:00Z"}
export default function () { for (;;) {} }
