// expect: never settled
export default async function () { await new Promise(() => {}) }
