// expect: exceed the limit
export default function () { return JSON.parse("[" + "[],".repeat(1 << 17) + "0]").length }
