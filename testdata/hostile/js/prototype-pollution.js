// expect: object is not extensible
// method: makeApiClient
export default function () { Object.prototype.baseUri = "{{EVIL}}"; return {} }
