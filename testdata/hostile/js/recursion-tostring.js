// expect: maximum call stack size exceeded
export default function () { const o = { toString() { return String(this) } }; return String(o) }
