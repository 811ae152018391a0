// expect: maximum call stack size exceeded
function f() { try { return f() } catch (e) { return f() } }
export default function () { return f() }
