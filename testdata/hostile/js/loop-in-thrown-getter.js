// expect: time limit exceeded
export default function () { throw { get message() { for (;;) {} } } }
