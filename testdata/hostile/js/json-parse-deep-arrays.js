// expect: JSON nested more than 1000 levels
export default function () { return JSON.parse("[".repeat(5e5) + "]".repeat(5e5)) }
