package jsrt

import "github.com/dop251/goja"

// preludeName names the prelude in stack traces, so frames from it can be
// told apart from the method's own.
const preludeName = "<jsrt-prelude>"

// preludeSource installs the sandbox into a fresh runtime: it removes what a
// method must not reach, wraps built-ins that could allocate without bound,
// adds console, btoa, atob and URLSearchParams and returns the SDK module.
// host holds Go functions; lim holds the current call's limits (updated by
// Go before each call and reachable only through these closures).
const preludeSource = `(function (host, lim) {
'use strict';
const G = globalThis;
const apply = Reflect.apply, construct = Reflect.construct;
const defineProperty = Object.defineProperty, freeze = Object.freeze;
const fail = host.fail;

delete G.eval;
// No BigInt: goja puts no bound on its operators, so a single expression
// such as 1n << 100000000000n allocates gigabytes at once (a fatal
// out-of-memory error for the whole process) and 2n ** 100000000n takes
// minutes in code that cannot be interrupted. Compile has esbuild turn
// BigInt literals into BigInt(...) calls; these are all the ways to make a
// BigInt value.
delete G.BigInt;
delete G.BigInt64Array;
delete G.BigUint64Array;
for (const k of ['getBigInt64', 'getBigUint64', 'setBigInt64', 'setBigUint64']) delete G.DataView.prototype[k];

function lengthOf(o) {
  if (o === null || o === undefined) return 0;
  const n = +o.length;
  return n > 0 ? n : 0;
}
function checkArray(n, what) { if (n > lim.arr) fail(what, n, lim.arr, 'elements'); }
function checkString(n, what) { if (n > lim.str) fail(what, n, lim.str, 'characters'); }
function checkBytes(n, what) { if (n > lim.str) fail(what, n, lim.str, 'bytes'); }

function wrap(obj, key, name, pre) {
  const orig = obj[key];
  const w = {
    [name]() { pre(this, arguments); return apply(orig, this, arguments); }
  }[name];
  defineProperty(w, 'length', { value: orig.length, configurable: true });
  defineProperty(obj, key, { value: w, writable: true, configurable: true, enumerable: false });
  return w;
}

// Strings.
const SP = String.prototype;
const strLen = s => (typeof s === 'string' ? s : String(s)).length;
wrap(SP, 'repeat', 'repeat', (s, a) => checkString(strLen(s) * (+a[0] || 0), 'String.prototype.repeat'));
wrap(SP, 'padStart', 'padStart', (s, a) => checkString(+a[0] || 0, 'String.prototype.padStart'));
wrap(SP, 'padEnd', 'padEnd', (s, a) => checkString(+a[0] || 0, 'String.prototype.padEnd'));
wrap(SP, 'concat', 'concat', (s, a) => {
  let n = strLen(s);
  for (let i = 0; i < a.length; i++) n += strLen(a[i]);
  checkString(n, 'String.prototype.concat');
});

// Arrays: every method walks this.length in native code, which a timeout
// cannot interrupt, so refuse huge (typically sparse) lengths up front.
const AP = Array.prototype;
for (const key of Reflect.ownKeys(AP)) {
  if (key === 'constructor' || key === Symbol.iterator || typeof AP[key] !== 'function') continue;
  const what = 'Array.prototype.' + String(key);
  if (key === 'join' || key === 'toString' || key === 'toLocaleString') {
    wrap(AP, key, key, (o, a) => {
      const n = lengthOf(o);
      checkArray(n, what);
      const sep = key === 'join' && a[0] !== undefined ? strLen(a[0]) : 1;
      checkString(n * sep, what);
    });
  } else {
    wrap(AP, key, key, o => checkArray(lengthOf(o), what));
  }
}
defineProperty(AP, Symbol.iterator, { value: AP.values, writable: true, configurable: true, enumerable: false });
const argLen = (a, i, what) => { if (a.length > i && a[i] !== null && typeof a[i] === 'object') checkArray(lengthOf(a[i]), what); };
wrap(Function.prototype, 'apply', 'apply', (f, a) => argLen(a, 1, 'Function.prototype.apply'));
wrap(Reflect, 'apply', 'apply', (r, a) => argLen(a, 2, 'Reflect.apply'));
wrap(Reflect, 'construct', 'construct', (r, a) => argLen(a, 1, 'Reflect.construct'));

// guardConstructor replaces a global constructor with a function that checks
// its arguments first. (A Proxy would be shorter, but goja's instanceof does
// not accept proxies.)
function guardConstructor(name, check) {
  const C = G[name];
  if (typeof C !== 'function') return;
  const W = function (...args) {
    check(args, name);
    return new.target ? construct(C, args, new.target === W ? C : new.target) : apply(C, this, args);
  };
  for (const key of Reflect.ownKeys(C)) {
    if (key !== 'prototype') defineProperty(W, key, Object.getOwnPropertyDescriptor(C, key));
  }
  W.prototype = C.prototype;
  Object.setPrototypeOf(W, Object.getPrototypeOf(C));
  defineProperty(C.prototype, 'constructor', { value: W, writable: true, configurable: true, enumerable: false });
  defineProperty(G, name, { value: W, writable: true, configurable: true, enumerable: false });
  return C;
}
const ArrayBufferOrig = ArrayBuffer;
guardConstructor('Array', (args, name) => {
  if (args.length === 1 && typeof args[0] === 'number') checkArray(args[0], name);
});
wrap(G.Array, 'from', 'from', (c, a) => argLen(a, 0, 'Array.from'));
guardConstructor('ArrayBuffer', (args, name) => checkBytes(+args[0] || 0, name));
guardConstructor('SharedArrayBuffer', (args, name) => checkBytes(+args[0] || 0, name));
for (const name of ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
  const C = G[name];
  if (typeof C !== 'function') continue;
  const size = C.BYTES_PER_ELEMENT;
  const elems = (x) => typeof x === 'number' ? x : (x !== null && typeof x === 'object' && !(x instanceof ArrayBufferOrig) ? lengthOf(x) : 0);
  guardConstructor(name, (args, what) => checkBytes(elems(args[0]) * size, what));
  wrap(G[name], 'from', 'from', (c, a) => checkBytes(elems(a[0]) * size, name + '.from'));
}

// Host globals.
const logger = level => function () { host.log(level, arguments); };
G.console = freeze({ log: logger('log'), info: logger('info'), warn: logger('warn'), error: logger('error'), debug: logger('debug'), trace: logger('trace') });
G.btoa = function btoa(s) { return host.btoa(String(s)); };
G.atob = function atob(s) { return host.atob(String(s)); };

// URLSearchParams as in the WHATWG URL Standard; the form encoding and
// decoding are done in Go.
const formEncode = host.formEncode, formDecode = host.formDecode;
class URLSearchParams {
  #list = [];
  constructor(init) {
    if (init !== null && (typeof init === 'object' || typeof init === 'function')) {
      if (#list in init) {
        for (const [k, v] of init.#list) this.#list.push([k, v]);
      } else if (typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function') || typeof pair[Symbol.iterator] !== 'function') {
            throw new TypeError("Failed to construct 'URLSearchParams': each query pair must be an iterable name/value pair");
          }
          const p = [];
          for (const x of pair) { p.push(x); if (p.length > 2) break; }
          if (p.length !== 2) throw new TypeError("Failed to construct 'URLSearchParams': each query pair must be a name/value tuple of length 2");
          this.#list.push([String(p[0]), String(p[1])]);
        }
      } else {
        for (const k of Reflect.ownKeys(init)) {
          if (typeof k !== 'string') continue;
          const d = Object.getOwnPropertyDescriptor(init, k);
          if (d !== undefined && d.enumerable) this.#list.push([k, String(init[k])]);
        }
      }
    } else if (init !== undefined) {
      let s = String(init);
      if (s[0] === '?') s = s.slice(1);
      for (const part of s.split('&')) {
        if (part === '') continue;
        const i = part.indexOf('=');
        this.#list.push(i < 0 ? [formDecode(part), ''] : [formDecode(part.slice(0, i)), formDecode(part.slice(i + 1))]);
      }
    }
  }
  get size() { return this.#list.length; }
  append(name, value) { this.#list.push([String(name), String(value)]); }
  delete(name, value) {
    name = String(name);
    const l = this.#list, all = value === undefined;
    if (!all) value = String(value);
    for (let i = 0; i < l.length;) {
      if (l[i][0] === name && (all || l[i][1] === value)) l.splice(i, 1); else i++;
    }
  }
  get(name) {
    name = String(name);
    for (const [k, v] of this.#list) if (k === name) return v;
    return null;
  }
  getAll(name) {
    name = String(name);
    const out = [];
    for (const [k, v] of this.#list) if (k === name) out.push(v);
    return out;
  }
  has(name, value) {
    name = String(name);
    const all = value === undefined;
    if (!all) value = String(value);
    for (const [k, v] of this.#list) if (k === name && (all || v === value)) return true;
    return false;
  }
  set(name, value) {
    name = String(name); value = String(value);
    const l = this.#list;
    let found = false;
    for (let i = 0; i < l.length;) {
      if (l[i][0] !== name) { i++; continue; }
      if (found) { l.splice(i, 1); continue; }
      l[i] = [name, value]; found = true; i++;
    }
    if (!found) l.push([name, value]);
  }
  sort() {
    // Stable, by UTF-16 code units of the names.
    const l = this.#list;
    const sorted = l.map((p, i) => [p, i]).sort((a, b) => a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]);
    for (let i = 0; i < l.length; i++) l[i] = sorted[i][0];
  }
  toString() {
    let out = '';
    for (const [k, v] of this.#list) out += (out === '' ? '' : '&') + formEncode(k) + '=' + formEncode(v);
    return out;
  }
  forEach(callback, thisArg) {
    if (typeof callback !== 'function') throw new TypeError('URLSearchParams.prototype.forEach: the callback is not a function');
    for (let i = 0; i < this.#list.length; i++) {
      const [k, v] = this.#list[i];
      apply(callback, thisArg, [v, k, this]);
    }
  }
  *entries() { for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]]; }
  *keys() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0]; }
  *values() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1]; }
}
defineProperty(URLSearchParams.prototype, Symbol.iterator, { value: URLSearchParams.prototype.entries, writable: true, configurable: true, enumerable: false });
defineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams', configurable: true });
defineProperty(G, 'URLSearchParams', { value: URLSearchParams, writable: true, configurable: true, enumerable: false });

// The SDK module.
const ConnectionErrorKey = freeze({
  ACCESS_TOKEN_EXPIRED: 'access_token_expired',
  CONNECTION_IS_DEFUNCT: 'connection_is_defunct',
  RATE_LIMIT_EXCEEDED: 'rate_limit_exceeded',
  INVALID_CREDENTIALS: 'invalid_credentials',
  UNAUTHORIZED: 'unauthorized',
  REFRESH_TOKEN_EXPIRED: 'refresh_token_expired',
});
const ErrorType = freeze({
  BAD_REQUEST: 'bad_request',
  CONNECTION: 'connection',
  ACCESS_DENIED: 'access_denied',
  NOT_FOUND: 'not_found',
  RATE_LIMIT: 'rate_limit',
  INTERNAL: 'internal',
  NOT_AUTHENTICATED: 'not_authenticated',
  DEPENDENCY_ERROR: 'dependency_error',
  UNIT_RUN: 'unit_run',
});
class IntegrationAppError extends Error {
  constructor(arg) {
    const a = arg !== null && typeof arg === 'object' ? arg : { message: arg };
    super(a.message === undefined || a.message === null ? '' : String(a.message));
    defineProperty(this, 'name', { value: new.target.name, writable: true, configurable: true, enumerable: false });
    defineProperty(this, 'isIntegrationAppError', { value: true, writable: true, configurable: true, enumerable: false });
    this.type = new.target.errorType;
    if (a.key !== undefined) this.key = a.key;
    if (a.data !== undefined) this.data = a.data;
    if (a.causedByError !== undefined) this.causedByError = a.causedByError;
  }
}
IntegrationAppError.errorType = ErrorType.INTERNAL;
class BadRequestError extends IntegrationAppError {}
BadRequestError.errorType = ErrorType.BAD_REQUEST;
class ConnectionError extends IntegrationAppError {}
ConnectionError.errorType = ErrorType.CONNECTION;
class AccessDeniedError extends IntegrationAppError {}
AccessDeniedError.errorType = ErrorType.ACCESS_DENIED;
class NotFoundError extends IntegrationAppError {}
NotFoundError.errorType = ErrorType.NOT_FOUND;
class RateLimitExceededError extends IntegrationAppError {}
RateLimitExceededError.errorType = ErrorType.RATE_LIMIT;
class InternalError extends IntegrationAppError {}
InternalError.errorType = ErrorType.INTERNAL;
class NotAuthenticatedError extends IntegrationAppError {}
NotAuthenticatedError.errorType = ErrorType.NOT_AUTHENTICATED;
class DependencyError extends IntegrationAppError {}
DependencyError.errorType = ErrorType.DEPENDENCY_ERROR;
class UnitRunError extends IntegrationAppError {}
UnitRunError.errorType = ErrorType.UNIT_RUN;

// RestApiClient carries the options it was given; returned from
// makeApiClient it stands for those options.
class RestApiClient {
  constructor(options) { this.options = options === undefined ? {} : options; }
}

const sdk = {
  IntegrationAppError, BadRequestError, ConnectionError, AccessDeniedError, NotFoundError,
  RateLimitExceededError, InternalError, NotAuthenticatedError, DependencyError, UnitRunError,
  ConnectionErrorKey, ErrorType, RestApiClient,
};
sdk.default = sdk;
defineProperty(sdk, '__esModule', { value: true });
return freeze(sdk);
})`

// freezeSource deep-freezes everything reachable from roots except the
// global object. Writable data properties named in overridable become
// accessors whose setter defines an own property on the receiver, so that
// e.g. "this.name = ..." in an Error subclass keeps working although
// Error.prototype is frozen.
const freezeSource = `(function (roots, overridable) {
'use strict';
const getProto = Object.getPrototypeOf, ownKeys = Reflect.ownKeys, gopd = Object.getOwnPropertyDescriptor;
const defineProperty = Object.defineProperty, freeze = Object.freeze;
const names = new Set(overridable);
const seen = new Set([globalThis]);
const stack = roots.slice();
function enable(o, k, v, enumerable) {
  // Methods, unlike function expressions, have no prototype object that
  // would need the same treatment.
  const { get, set } = {
    get() { return v; },
    set(nv) {
      if (this === o) throw new TypeError('Cannot assign to read only property \'' + String(k) + '\'');
      defineProperty(this, k, { value: nv, writable: true, enumerable: true, configurable: true });
    },
  };
  defineProperty(o, k, { get, set, enumerable, configurable: false });
  stack.push(get, set);
}
while (stack.length > 0) {
  const o = stack.pop();
  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
  seen.add(o);
  for (const k of ownKeys(o)) {
    const d = gopd(o, k);
    if (d === undefined) continue;
    if ('value' in d) {
      stack.push(d.value);
      if (d.writable && d.configurable && names.has(k)) enable(o, k, d.value, d.enumerable);
    } else {
      stack.push(d.get, d.set);
    }
  }
  stack.push(getProto(o));
  freeze(o);
}
})`

// hiddenIntrinsics are expressions for built-in objects not reachable from
// the global object's properties; they must be frozen too.
var hiddenIntrinsics = []string{
	`Object.getPrototypeOf(function* () {})`,
	`Object.getPrototypeOf((function* () {})())`,
	`Object.getPrototypeOf(async function () {})`,
	`Object.getPrototypeOf(async function* () {})`,
	`Object.getPrototypeOf((async function* () {})())`,
	`Object.getPrototypeOf([][Symbol.iterator]())`,
	`Object.getPrototypeOf(new Map()[Symbol.iterator]())`,
	`Object.getPrototypeOf(new Set()[Symbol.iterator]())`,
	`Object.getPrototypeOf(''[Symbol.iterator]())`,
	`Object.getPrototypeOf(/x/[Symbol.matchAll](''))`,
	`Object.getPrototypeOf(Int8Array)`,
	`(function () { 'use strict'; return Object.getOwnPropertyDescriptor(arguments, 'callee').get; })()`,
	`(function () { return arguments[Symbol.iterator]; })()`,
	`Object.getPrototypeOf(Promise.resolve())`,
}

// overridableNames are the properties that get the accessor treatment in
// frozen runtimes (the "override mistake" ones code commonly assigns).
var overridableNames = []any{
	"constructor", "name", "message", "stack", "toString", "toLocaleString", "valueOf",
	"hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toJSON", "then", "catch", "finally",
}

var (
	preludeProgram = goja.MustCompile(preludeName, preludeSource, true)
	freezeProgram  = goja.MustCompile(preludeName, freezeSource, true)
)
