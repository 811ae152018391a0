// expect: exceed the limit
export default function () { return "\u0149".repeat(1 << 19).toUpperCase().length }
