// expect: exceed the limit
export default function () { const s = "x".repeat(1 << 17); return Array.from(s).length + [...s].length }
