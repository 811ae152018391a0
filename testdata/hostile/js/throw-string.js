// expect: Error: plain words
export default function () { throw "plain words" }
