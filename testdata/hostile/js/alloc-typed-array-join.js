// expect: exceed the limit
export default function () { return new Float64Array(1 << 17).join("x".repeat(64)).length }
