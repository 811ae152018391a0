// expect: exceed the limit
export default function () { return "abc".repeat(1e9).length }
