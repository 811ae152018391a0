import { base } from './missing-helper'
import secrets from '../../imports/auth/helpers'

export default () => ({ baseUri: base + secrets })
