// expect: fetch is not defined
export default async function () { return await fetch("{{EVIL}}") }
