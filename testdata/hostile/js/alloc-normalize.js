// expect: exceed the limit
export default function () { return "\ufdfa".repeat(1 << 16).normalize("NFKD").length }
