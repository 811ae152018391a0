// expect: JSON nested more than 1000 levels
export default function () { return JSON.parse("[".repeat(4e6) + "]".repeat(4e6)) }
