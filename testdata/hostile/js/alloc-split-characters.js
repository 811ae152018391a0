// expect: exceed the limit
export default function () { return "x".repeat(1 << 23).split("").length }
