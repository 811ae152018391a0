import { a } from './a'
export default () => ({ baseUri: 'https://api.acme.test', headers: { X: a() } })
