// expect: cyclic
// method: makeApiClient
export default function () { const o = { baseUri: "https://a.test" }; o.self = o; return o }
