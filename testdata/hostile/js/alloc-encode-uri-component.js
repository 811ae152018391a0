// expect: exceed the limit
export default function () { return encodeURIComponent("\u0800".repeat(1 << 17)).length }
