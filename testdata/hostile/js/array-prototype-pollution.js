// expect: read only
export default function () { Array.prototype.push = function () { return 0 }; return true }
