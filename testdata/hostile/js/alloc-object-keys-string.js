// expect: exceed the limit
export default function () { return Object.keys("x".repeat(1 << 23)).length }
