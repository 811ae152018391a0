// expect: import of "fs" is not allowed
// phase: load
export default function () { return require("fs").readFileSync("/etc/passwd", "utf8") }
