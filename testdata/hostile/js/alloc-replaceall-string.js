// expect: exceed the limit
export default function () { return "x".repeat(4096).replaceAll("x", "y".repeat(65536)).length }
