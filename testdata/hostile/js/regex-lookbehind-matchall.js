// expect: time limit exceeded
export default function () { return [..."a".repeat(34).matchAll(/(?<=a)(?:(a+)+)\1?b/g)] }
