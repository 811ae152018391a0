// expect: Error: null
export default function () { throw null }
