// expect: limit exceeded
// serial: true
export default function () { const f = () => Promise.resolve().then(f); return f() }
