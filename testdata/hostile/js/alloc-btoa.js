// expect: exceed the limit
export default function () { return btoa("x".repeat(1 << 20)).length }
