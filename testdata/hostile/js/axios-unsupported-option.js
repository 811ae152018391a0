// expect: axios: the config option "maxRedirects" is not supported
import axios from "axios"
export default async function () { return (await axios.get("{{URL}}/", { maxRedirects: 0 })).data }
