// expect: import of "child_process" is not allowed
export default function () { const m = ["child", "process"].join("_"); return require(m).execSync("id") }
