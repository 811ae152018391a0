// expect: limit exceeded
export default function () { const a = []; for (let i = 0; ; i++) a.push({ i, s: String(i), nested: { i } }) }
