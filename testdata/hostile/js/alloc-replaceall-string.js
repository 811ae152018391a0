// expect: exceed the limit
export default function () { return "x".repeat(65536).replaceAll("x", "y".repeat(65536)).length }
