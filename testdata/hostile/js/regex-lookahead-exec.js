// expect: time limit exceeded
export default function () { return /^(?=(a+)+b)/.exec("a".repeat(34)) }
