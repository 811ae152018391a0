// expect: exceed the limit
export default function () { return String.raw({ raw: { length: 2 ** 32 } }).length }
