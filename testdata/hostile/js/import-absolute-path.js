// expect: import of "/etc/passwd" is not allowed
// phase: load
export default function () { return require('/etc/passwd') }
