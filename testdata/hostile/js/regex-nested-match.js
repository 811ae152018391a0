// expect: time limit exceeded
export default function () { return "a".repeat(34).match(/^(a|a?)+(?=c)$/) }
