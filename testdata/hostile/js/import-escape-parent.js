// expect: leaves the connector folder
// phase: load
import passwd from '../../../../../../etc/passwd'
export default function () { return passwd }
