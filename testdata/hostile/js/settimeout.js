// expect: setTimeout is not defined
export default function () { return new Promise((r) => setTimeout(r, 1e9)) }
