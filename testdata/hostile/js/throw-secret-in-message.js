// expect: [REDACTED]
export default function ({ credentials }) { throw new Error("the key " + credentials.apiKey + " was refused") }
