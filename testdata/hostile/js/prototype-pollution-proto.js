// expect: object is not extensible
// method: makeApiClient
export default function () { ({}).__proto__.baseUri = "{{EVIL}}"; return {} }
