// expect: exceed the limit
export default function () { return new Float64Array(1e9).length }
