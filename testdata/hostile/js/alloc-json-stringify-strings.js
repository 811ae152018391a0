// expect: exceed the limit
export default function () { return JSON.stringify(new Array(4096).fill("x".repeat(1 << 20))).length }
