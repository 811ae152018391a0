// expect: time limit exceeded
export default function () { for (;;) { try { null.x } catch (e) {} } }
