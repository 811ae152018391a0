// expect: exceed the limit
export default function () { return new Array(1e9).length }
