// expect: exceed the limit
export default function () { const a = new Array(8192).fill("x".repeat(1 << 20)); return `${a}`.length }
