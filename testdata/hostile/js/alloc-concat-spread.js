// expect: exceed the limit
export default function () { const s = "x".repeat(1 << 20); return s.concat(...new Array(4096).fill(s)).length }
