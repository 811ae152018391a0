// expect: eval is not defined
export default function () { return eval("process.env") }
