// expect: Error: 42
export default function () { throw 42 }
