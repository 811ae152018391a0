// expect: exceed the limit
export default function () { return String.raw({ raw: new Array(8192).fill("x".repeat(1 << 20)) }).length }
