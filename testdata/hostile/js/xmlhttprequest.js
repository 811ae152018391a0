// expect: XMLHttpRequest is not defined
export default function () { const x = new XMLHttpRequest(); x.open("GET", "{{EVIL}}"); x.send() }
