// expect: exceed the limit
export default function () { return "\ufdfa".repeat(1 << 20).normalize("NFKD").length }
