// expect: time limit exceeded
export default function () { return /^(?:(a+)+)\1?b$/.test("a".repeat(34)) }
