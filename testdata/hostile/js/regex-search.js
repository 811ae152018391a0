// expect: time limit exceeded
export default function () { return "a".repeat(34).search(/(?:(a+)+)\1?b/) }
