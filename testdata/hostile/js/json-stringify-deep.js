// expect: JSON nested more than 1000 levels
export default function () { let o = {}; for (let i = 0; i < 2000; i++) o = { o }; return JSON.stringify(o).length }
