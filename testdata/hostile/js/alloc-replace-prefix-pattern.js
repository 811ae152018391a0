// expect: exceed the limit
export default function () { return "x".repeat(65536).replace(/x/g, "$\x60").length }
