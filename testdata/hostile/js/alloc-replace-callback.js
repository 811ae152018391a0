// expect: exceed the limit
export default function () { const big = "y".repeat(1 << 20); return "x".repeat(4096).replace(/x/g, () => big).length }
