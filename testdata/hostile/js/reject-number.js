// expect: Error: 7
export default function () { return Promise.reject(7) }
