// expect: require
export default function () { return globalThis.require("fs") }
