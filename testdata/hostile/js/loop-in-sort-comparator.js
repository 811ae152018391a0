// expect: time limit exceeded
export default function () { return [3, 2, 1].sort(() => { for (;;) {} }) }
