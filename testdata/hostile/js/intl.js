// expect: Intl
export default function () { return new Intl.NumberFormat("en").format(1) }
