// expect: time limit exceeded
export default async function () { await null; while (true) {} }
