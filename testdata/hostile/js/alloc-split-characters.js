// expect: exceed the limit
export default function () { return "x".repeat(1 << 17).split("").length }
