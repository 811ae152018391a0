// expect: time limit exceeded
// method: makeApiClient
export default function () { return { get baseUri() { for (;;) {} } } }
