// expect: a non-Error object was thrown
export default function () { throw {} }
