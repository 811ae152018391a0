// expect: limit exceeded
export default function () { const m = new Map(); for (let i = 0; ; i++) m.set(i, "v".repeat(64) + i) }
