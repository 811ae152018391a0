// expect: test.js:2:30: secret
export default function () { throw function secret() {} }
