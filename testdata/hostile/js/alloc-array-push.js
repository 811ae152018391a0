// expect: limit exceeded
export default function () { const a = []; for (;;) a.push("y".repeat(1 << 16) + a.length) }
