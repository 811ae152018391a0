// expect: exceed the limit
export default function () { const o = { toString() { return "x".repeat(1 << 20) } }; return String(new Array(8192).fill(o)).length }
