// expect: Cannot read property
export default function () { return [].constructor.constructor("return this")().process.env }
