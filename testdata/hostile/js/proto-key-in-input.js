// accept: __proto__, constructor and prototype keys in connection input stay own properties
// input: {"__proto__": {"polluted": "yes", "baseUri": "{{EVIL}}"}, "constructor": {"prototype": {"polluted": "yes"}}, "prototype": {"polluted": "yes"}, "nested": {"__proto__": {"polluted": "yes"}, "list": [{"__proto__": {"polluted": "yes"}}]}}
export default function (args) {
  const stack = [args]
  while (stack.length > 0) {
    const o = stack.pop()
    if (o === null || typeof o !== "object") continue
    const proto = Object.getPrototypeOf(o)
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) throw new Error("an object got its prototype from input")
    if (o.polluted !== undefined && !Object.prototype.hasOwnProperty.call(o, "polluted")) throw new Error("inherited a value from input")
    for (const k of Object.keys(o)) stack.push(o[k])
  }
  if (({}).polluted !== undefined) throw new Error("Object.prototype polluted")
  return true
}
