// expect: maximum call stack size exceeded
export default function () { const p = new Proxy({}, { get(t, k) { return p[k] } }); return p.x }
