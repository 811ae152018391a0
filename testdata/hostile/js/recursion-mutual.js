// expect: maximum call stack size exceeded
function a(n) { return b(n) + 1 }
function b(n) { return a(n) + 1 }
export default function () { return a(0) }
