// expect: exceed the limit
export default function () { return JSON.parse("[" + "[],".repeat(1 << 22) + "0]").length }
