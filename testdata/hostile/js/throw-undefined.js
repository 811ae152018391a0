// expect: Error: undefined
export default function () { throw undefined }
