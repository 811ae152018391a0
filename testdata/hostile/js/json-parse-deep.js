// expect: JSON nested more than 1000 levels
export default function () { return JSON.parse("[".repeat(3e4)) }
