// expect: time limit exceeded
// serial: true
export default async function () { for await (const x of (async function* () { for (;;) yield 1 })()) {} }
