// expect: exceed the limit
export default function () { return [...new Uint8Array(1 << 20)].length }
