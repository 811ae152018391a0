// expect: limit exceeded
export default function () { let o = {}; for (let i = 0; i < 1e7; i++) o = { a: o }; return JSON.stringify(o).length }
