// expect: time limit exceeded
export default function () { const r = new RegExp("^(\\w+\\s?)+\\1$"); for (;;) { try { r.test("a".repeat(34) + "!") } catch (e) {} } }
