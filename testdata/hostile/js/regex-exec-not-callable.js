// expect: time limit exceeded
export default function () {
  const r = /^(?:(a+)+)\1?b$/
  Object.defineProperty(r, "exec", { value: null })
  try { r[Symbol.match]("a".repeat(34)) } catch (e) {}
  return r.test("a".repeat(34))
}
