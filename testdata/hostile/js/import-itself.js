// expect: makes a cycle
// phase: load
import * as me from './test'
export default function () { return me }
