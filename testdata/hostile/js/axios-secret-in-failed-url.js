// expect: fetch GET failed
export default async function ({ connectionInput }) {
  const axios = require("axios")
  return (await axios.get("http://127.0.0.1:1/?key=" + connectionInput.apiKey)).data
}
