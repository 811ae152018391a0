// expect: SyntaxError
export default function () { return JSON.parse("[".repeat(3e4)) }
