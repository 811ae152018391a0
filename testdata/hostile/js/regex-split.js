// expect: time limit exceeded
export default function () { return "a".repeat(34).split(/(a+)+\1c/) }
