// expect: time limit exceeded
// method: makeApiClient
export default function () { return new Proxy({}, { ownKeys() { for (;;) {} } }) }
