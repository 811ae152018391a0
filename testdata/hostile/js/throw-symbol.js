// expect: Error: sym
export default function () { throw Symbol("sym") }
