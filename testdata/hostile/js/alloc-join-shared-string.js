// expect: exceed the limit
export default function () { return new Array(8192).fill("x".repeat(1 << 20)).join("").length }
