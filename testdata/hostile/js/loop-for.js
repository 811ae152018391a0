// expect: time limit exceeded
export default function () { for (;;) {} }
