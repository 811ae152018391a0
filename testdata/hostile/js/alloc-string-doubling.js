// expect: limit exceeded
export default function () { let s = "x"; for (;;) s += s }
