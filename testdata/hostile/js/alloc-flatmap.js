// expect: exceed the limit
export default function () { const a = new Array(1 << 16).fill(0); return new Array(4096).fill(0).flatMap(() => a).length }
