// expect: maximum call stack size exceeded
export default function () { const o = { get a() { return this.a } }; return o.a }
