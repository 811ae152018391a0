// expect: exceed the limit
export default function () { return Object.keys("x".repeat(1 << 17)).length }
