// expect: connection input host would change the fetch URL host
// input: {"host": "127.0.0.1"}
export default async function ({ connectionInput }) { return await fetch("http://" + connectionInput.host + "/?key=" + connectionInput.apiKey) }
