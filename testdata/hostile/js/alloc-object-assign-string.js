// expect: exceed the limit
export default function () { return Object.keys(Object.assign({}, "x".repeat(1 << 17))).length }
