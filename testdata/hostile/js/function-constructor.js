// expect: process is not defined
export default function () { return Function("return process.env")() }
