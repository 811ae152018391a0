// expect: time limit exceeded
export default function () { try { throw new Error("x") } finally { for (;;) {} } }
