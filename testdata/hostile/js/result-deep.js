// expect: nested too deeply
// method: makeApiClient
export default function () { let o = {}; for (let i = 0; i < 500; i++) o = { o }; return { baseUri: "https://a.test", o } }
