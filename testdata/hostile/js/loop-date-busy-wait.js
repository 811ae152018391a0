// expect: time limit exceeded
export default function () { const s = Date.now(); while (Date.now() - s < 1e9) {} }
