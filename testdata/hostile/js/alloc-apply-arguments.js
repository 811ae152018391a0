// expect: exceed the limit
export default function () { return String.fromCharCode.apply(null, new Uint8Array(1 << 20)).length }
