// expect: process is not defined
export default function () { return process.env.HOME }
