// expect: [REDACTED]
import { ConnectionError } from "@integration-app/sdk"
export default function ({ credentials }) { throw new ConnectionError({ key: credentials.apiKey, message: "bad " + credentials.apiKey }) }
