// expect: import of "node-fetch" is not allowed
// phase: load
import fetch from 'node-fetch'
export default function () { return fetch('http://169.254.169.254/') }
