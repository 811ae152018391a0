// expect: exceed the limit
export default function () { let o = ["x".repeat(1024)]; for (let i = 0; i < 48; i++) o = [o, o]; return JSON.stringify(o).length }
