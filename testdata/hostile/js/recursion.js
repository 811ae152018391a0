// expect: maximum call stack size exceeded
export default function () { const f = (n) => f(n + 1) + 1; return f(0) }
