// expect: exceed the limit
export default function () { return "x".padStart(2 ** 31, "ab").length }
