// expect: time limit exceeded
export default function () { return "a".repeat(34).replace(/^((a+)+)\2b/, "x") }
