package jsrt

import "github.com/dop251/goja"

// preludeName names the prelude in stack traces, so frames from it can be
// told apart from the method's own.
const preludeName = "<jsrt-prelude>"

// preludeSource installs the sandbox into a fresh runtime: it removes what a
// method must not reach, wraps built-ins that could allocate without bound,
// adds console, btoa, atob, URLSearchParams, fetch (Headers, Request,
// Response) and returns the SDK and axios modules.
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
  wrap(AP, key, key, o => checkArray(lengthOf(o), what)); // join and toLocaleString: see the output budget
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

// The output budget. A native built-in runs to its end without looking at
// the time limit or the heap watcher, so one call that makes far more than
// it was given (join of 8192 references to one 1 MiB string, a replacement
// pattern that inserts the text before every match, ...) could allocate gigabytes at once: a
// fatal out-of-memory error for the whole process. Every built-in that can
// make output much larger than its input is checked here before it runs, or
// reimplemented so that it checks as it goes, against lim.str (characters)
// and lim.arr (elements); JSON.stringify and the host functions check in Go
// the same way. Output at most the sum of inputs that already exist (+,
// template literals, slice, map, ...) grows the heap step by step, which the
// time limit and the heap watcher see.
const origJoin = AP.join;
// toStr is ToString: symbols throw, as in the built-ins.
const toStr = x => typeof x === 'string' ? x : typeof x === 'symbol' ? toStrSymbol() : String(x);
const toStrSymbol = () => { throw new TypeError('Cannot convert a Symbol value to a string'); };
// joinChecked joins strs (an array of strings) after checking their total.
function joinChecked(strs, sep, total, what) {
  checkString(total, what);
  return apply(origJoin, strs, [sep]);
}
// stringsOf converts the elements of an array-like, counting their length.
function stringsOf(o, n, sep, conv, what) {
  checkArray(n, what);
  const strs = [];
  let total = n > 1 ? (n - 1) * sep.length : 0;
  checkString(total, what);
  for (let i = 0; i < n; i++) {
    const e = o[i];
    const s = e === undefined || e === null ? '' : conv(e);
    total += s.length;
    checkString(total, what);
    strs[i] = s;
  }
  return [strs, total];
}
defineProperty(AP, 'join', { value: { join(sep) {
  const o = Object(this), n = lengthOf(o);
  sep = sep === undefined ? ',' : toStr(sep);
  const [strs, total] = stringsOf(o, n, sep, toStr, 'Array.prototype.join');
  return joinChecked(strs, sep, total, 'Array.prototype.join');
} }.join, writable: true, configurable: true, enumerable: false });
defineProperty(AP, 'toLocaleString', { value: { toLocaleString() {
  const o = Object(this), n = lengthOf(o);
  const [strs, total] = stringsOf(o, n, ',', e => toStr(e.toLocaleString()), 'Array.prototype.toLocaleString');
  return joinChecked(strs, ',', total, 'Array.prototype.toLocaleString');
} }.toLocaleString, writable: true, configurable: true, enumerable: false });

// Arrays made of other arrays.
const isArray = Array.isArray;
wrap(AP, 'concat', 'concat', (o, a) => {
  let n = isArray(o) ? lengthOf(o) : 1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    n += x !== null && typeof x === 'object' && (isArray(x) || x[Symbol.isConcatSpreadable]) ? lengthOf(x) : 1;
  }
  checkArray(n, 'Array.prototype.concat');
});
function flatLength(o, depth, n, what) {
  const len = lengthOf(o);
  for (let i = 0; i < len; i++) {
    const e = o[i];
    if (depth >= 1 && isArray(e)) n = depth < 2 ? n + lengthOf(e) : flatLength(e, depth - 1, n, what);
    else n++;
    checkArray(n, what);
  }
  return n;
}
const flat = wrap(AP, 'flat', 'flat', (o, a) => {
  const d = a[0] === undefined ? 1 : +a[0];
  flatLength(o, d > 0 ? d : 0, 0, 'Array.prototype.flat');
});
const map = AP.map;
defineProperty(AP, 'flatMap', { value: { flatMap(fn, thisArg) {
  return apply(flat, apply(map, this, [fn, thisArg]), [1]);
} }.flatMap, writable: true, configurable: true, enumerable: false });

// Strings whose result can be up to factor times as long as their input.
const expanding = (obj, key, what, factor, arg) => wrap(obj, key, key, (s, a) => checkString(strLen(arg ? a[0] : s) * factor, what));
for (const key of ['toUpperCase', 'toLowerCase', 'toLocaleUpperCase', 'toLocaleLowerCase']) expanding(SP, key, 'String.prototype.' + key, 3);
wrap(SP, 'normalize', 'normalize', (s, a) => {
  const form = a[0] === undefined ? 'NFC' : a[0];
  checkString(strLen(s) * (form === 'NFKC' || form === 'NFKD' ? 18 : 4), 'String.prototype.normalize');
});
for (const key of ['encodeURIComponent', 'encodeURI']) expanding(G, key, key, 9, true);
expanding(G, 'escape', 'escape', 6, true);
// Making a character list of a string: spread, Array.from, for-of.
wrap(SP, Symbol.iterator, '[Symbol.iterator]', s => checkArray(strLen(s), 'String.prototype[Symbol.iterator]'));
wrap(SP, 'split', 'split', (s, a) => {
  const sep = a[0];
  if (sep === undefined || sep === null || typeof sep === 'object' || typeof sep === 'function') return; // a RegExp's exec runs in steps
  const str = toStr(s), sepStr = toStr(sep);
  let limit = a[1] === undefined ? Infinity : a[1] >>> 0;
  if (Math.min(limit, str.length / Math.max(sepStr.length, 1) + 1) <= lim.arr) return;
  let n = 1;
  if (sepStr === '') n = Math.min(str.length, limit);
  else for (let i = str.indexOf(sepStr); i >= 0 && n <= lim.arr && n < limit; i = str.indexOf(sepStr, i + Math.max(sepStr.length, 1))) n++;
  checkArray(n, 'String.prototype.split');
});

// Property lists of strings and typed arrays, which have no properties to
// show for each index until asked.
const TAP = Object.getPrototypeOf(Int8Array.prototype);
const isView = ArrayBuffer.isView;
function indexedLength(x) {
  if (typeof x === 'string') return x.length;
  if (x === null || typeof x !== 'object') return 0;
  if (isArray(x) || (isView(x) && !(x instanceof DataView))) return lengthOf(x);
  if (x instanceof String) return strLen(x);
  return 0;
}
for (const key of ['keys', 'values', 'entries', 'getOwnPropertyNames', 'getOwnPropertyDescriptors']) {
  wrap(Object, key, key, (o, a) => checkArray(indexedLength(a[0]), 'Object.' + key));
}
wrap(Reflect, 'ownKeys', 'ownKeys', (o, a) => checkArray(indexedLength(a[0]), 'Reflect.ownKeys'));
wrap(Object, 'assign', 'assign', (o, a) => {
  let n = 0;
  for (let i = 1; i < a.length; i++) n += indexedLength(a[i]);
  checkArray(n, 'Object.assign');
});
const taWidth = o => o instanceof Float64Array || o instanceof Float32Array ? 24 : 11;
for (const key of ['join', 'toString', 'toLocaleString']) {
  if (typeof TAP[key] !== 'function' || TAP[key] === AP[key]) continue;
  wrap(TAP, key, key, (o, a) => {
    const sep = key === 'join' && a[0] !== undefined ? strLen(a[0]) : 1;
    checkString(lengthOf(o) * (taWidth(o) + sep), '%TypedArray%.prototype.' + key);
  });
}
for (const key of ['values', 'keys', 'entries']) wrap(TAP, key, key, o => checkArray(lengthOf(o), '%TypedArray%.prototype.' + key));
defineProperty(TAP, Symbol.iterator, { value: TAP.values, writable: true, configurable: true, enumerable: false });

// String.raw interleaves its template's strings with the substitutions.
defineProperty(String, 'raw', { value: { raw(template, ...subs) {
  const r = Object(Object(template).raw), n = lengthOf(r);
  checkArray(n, 'String.raw');
  const strs = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s = toStr(r[i]);
    total += s.length;
    checkString(total, 'String.raw');
    strs[strs.length] = s;
    if (i + 1 < n && i < subs.length) {
      const sub = toStr(subs[i]);
      total += sub.length;
      checkString(total, 'String.raw');
      strs[strs.length] = sub;
    }
  }
  return joinChecked(strs, '', total, 'String.raw');
} }.raw, writable: true, configurable: true, enumerable: false });

// Replacing: the result is built piece by piece against the budget.
class Output {
  constructor(what) { this.what = what; this.parts = []; this.n = 0; }
  add(s) {
    if (s === '') return;
    this.n += s.length;
    checkString(this.n, this.what);
    this.parts[this.parts.length] = s;
  }
  toString() { return apply(origJoin, this.parts, ['']); }
}
// substitute appends GetSubstitution(matched, str, position, captures,
// named, replacement) to out.
function substitute(out, matched, str, position, captures, named, replacement) {
  const m = captures.length, tailPos = Math.min(position + matched.length, str.length);
  let last = 0;
  for (let i = replacement.indexOf('$'); i >= 0 && i + 1 < replacement.length; i = replacement.indexOf('$', last)) {
    out.add(replacement.slice(last, i));
    const c = replacement[i + 1];
    last = i + 2;
    if (c === '$') out.add('$');
    else if (c === '&') out.add(matched);
    else if (c === '\x60') out.add(str.slice(0, position));
    else if (c === "'") out.add(str.slice(tailPos));
    else if (c >= '0' && c <= '9') {
      let n = +c;
      const c2 = replacement[i + 2];
      if (c2 >= '0' && c2 <= '9' && n * 10 + +c2 >= 1 && n * 10 + +c2 <= m) { n = n * 10 + +c2; last = i + 3; }
      if (n >= 1 && n <= m) { const cap = captures[n - 1]; if (cap !== undefined) out.add(cap); }
      else { out.add(replacement.slice(i, last)); }
    } else if (c === '<') {
      const end = named === undefined ? -1 : replacement.indexOf('>', i + 2);
      if (end < 0) out.add('$<');
      else {
        const cap = named[replacement.slice(i + 2, end)];
        if (cap !== undefined) out.add(toStr(cap));
        last = end + 1;
      }
    } else { out.add('$'); last = i + 1; }
  }
  out.add(replacement.slice(last));
}
const toLen = x => { const n = Math.trunc(+x); return n > 0 ? Math.min(n, Number.MAX_SAFE_INTEGER) : 0; };
function advance(s, i, unicode) {
  if (!unicode || i + 1 >= s.length) return i + 1;
  const c = s.charCodeAt(i);
  if (c < 0xD800 || c > 0xDBFF) return i + 1;
  const d = s.charCodeAt(i + 1);
  return d < 0xDC00 || d > 0xDFFF ? i + 1 : i + 2;
}
function regExpExec(rx, s) {
  const exec = rx.exec;
  if (typeof exec === 'function') {
    const r = apply(exec, rx, [s]);
    if (r !== null && typeof r !== 'object') throw new TypeError('exec must return an object or null');
    return r;
  }
  return apply(RP.exec, rx, [s]);
}
const RP = RegExp.prototype;
defineProperty(RP, Symbol.replace, { value: { [Symbol.replace](string, replaceValue) {
  const rx = this;
  if (rx === null || (typeof rx !== 'object' && typeof rx !== 'function')) throw new TypeError('RegExp.prototype[Symbol.replace] called on a non-object');
  const s = toStr(string), functional = typeof replaceValue === 'function';
  if (!functional) replaceValue = toStr(replaceValue);
  const flags = toStr(rx.flags), global = flags.includes('g');
  const unicode = global && flags.includes('u');
  if (global) rx.lastIndex = 0;
  const out = new Output('RegExp.prototype[Symbol.replace]');
  let next = 0;
  const apply1 = r => {
    const nCaptures = Math.max(toLen(r.length) - 1, 0);
    const matched = toStr(r[0]);
    const position = Math.max(Math.min(Math.trunc(+r.index) || 0, s.length), 0);
    const captures = [];
    for (let n = 1; n <= nCaptures; n++) { const c = r[n]; captures[n - 1] = c === undefined ? c : toStr(c); }
    let named = r.groups;
    const piece = new Output(out.what);
    piece.n = out.n; // a piece counts against what is already there
    if (functional) {
      const args = [matched];
      for (let n = 0; n < captures.length; n++) args[args.length] = captures[n];
      args[args.length] = position;
      args[args.length] = s;
      if (named !== undefined) args[args.length] = named;
      piece.add(toStr(apply(replaceValue, undefined, args)));
    } else {
      if (named !== undefined) named = Object(named);
      substitute(piece, matched, s, position, captures, named, replaceValue);
    }
    if (position >= next) {
      out.add(s.slice(next, position));
      out.add(piece.toString());
      next = position + matched.length;
    }
  };
  // A replacement function sees every match found before it is first
  // called, as ECMAScript says; a replacement string has no such effects,
  // so each match is replaced as it is found and the budget stops early.
  const results = [];
  for (;;) {
    const r = regExpExec(rx, s);
    if (r === null) break;
    if (functional) results[results.length] = r;
    else apply1(r);
    if (!global) break;
    if (toStr(r[0]) === '') rx.lastIndex = advance(s, toLen(rx.lastIndex), unicode);
  }
  for (let k = 0; k < results.length; k++) apply1(results[k]);
  if (next < s.length) out.add(s.slice(next));
  return out.toString();
} }[Symbol.replace], writable: true, configurable: true, enumerable: false });
const isRegExp = x => {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
  const m = x[Symbol.match];
  return m !== undefined ? !!m : x instanceof RegExp;
};
function stringReplace(thisValue, searchValue, replaceValue, all, what) {
  if (thisValue === null || thisValue === undefined) throw new TypeError(what + ' called on null or undefined');
  if (searchValue !== null && searchValue !== undefined) {
    if (all && isRegExp(searchValue)) {
      const flags = searchValue.flags;
      if (flags === null || flags === undefined || !toStr(flags).includes('g')) throw new TypeError('replaceAll must be called with a global RegExp');
    }
    const replacer = searchValue[Symbol.replace];
    if (replacer !== undefined && replacer !== null) return apply(replacer, searchValue, [thisValue, replaceValue]);
  }
  const s = toStr(thisValue), search = toStr(searchValue), functional = typeof replaceValue === 'function';
  if (!functional) replaceValue = toStr(replaceValue);
  const step = Math.max(search.length, 1), positions = [];
  for (let p = s.indexOf(search); p >= 0; p = all ? s.indexOf(search, p + step) : -1) {
    positions[positions.length] = p;
    if (p >= s.length) break;
  }
  const out = new Output(what);
  let next = 0;
  for (let k = 0; k < positions.length; k++) {
    const p = positions[k];
    out.add(s.slice(next, p));
    if (functional) out.add(toStr(apply(replaceValue, undefined, [search, p, s])));
    else substitute(out, search, s, p, [], undefined, replaceValue);
    next = p + search.length;
  }
  if (next < s.length) out.add(s.slice(next));
  return out.toString();
}
defineProperty(SP, 'replace', { value: { replace(searchValue, replaceValue) {
  return stringReplace(this, searchValue, replaceValue, false, 'String.prototype.replace');
} }.replace, writable: true, configurable: true, enumerable: false });
defineProperty(SP, 'replaceAll', { value: { replaceAll(searchValue, replaceValue) {
  return stringReplace(this, searchValue, replaceValue, true, 'String.prototype.replaceAll');
} }.replaceAll, writable: true, configurable: true, enumerable: false });

// RegExp.prototype.exec, through which every regular expression method
// goes once it is replaced: patterns that need backtracking run in Go with
// the call's remaining time as their limit (see regexp.go).
const origExec = RP.exec;
const rxGetter = k => Object.getOwnPropertyDescriptor(RP, k).get;
const rxSource = rxGetter('source');
// A RegExp's pattern never changes (compile, which would change it, is
// gone), so whether it needs backtracking is decided once per object.
const kinds = new WeakMap();
delete RP.compile;
const rxFlags = [['global', 'g'], ['ignoreCase', 'i'], ['multiline', 'm'], ['dotAll', 's'], ['unicode', 'u'], ['sticky', 'y']].map(([k, f]) => [rxGetter(k), f]);
defineProperty(RP, 'exec', { value: { exec(string) {
  const s = toStr(string);
  if (this === RP || this === null || typeof this !== 'object') return apply(origExec, this, [s]);
  let kind = kinds.get(this);
  if (kind === undefined) {
    const source = apply(rxSource, this, []);
    let flags = '';
    for (let i = 0; i < rxFlags.length; i++) if (apply(rxFlags[i][0], this, [])) flags += rxFlags[i][1];
    kind = host.regexpBacktracks(source, flags) ? [source, flags] : null;
    kinds.set(this, kind);
  }
  return kind === null ? apply(origExec, this, [s]) : host.regexpExec(this, s, kind[0], kind[1]);
} }.exec, writable: true, configurable: true, enumerable: false });

// goja's own test skips exec, and its generic paths fall back to the native
// exec when a RegExp's exec is not callable: close both ways around it.
defineProperty(RP, 'test', { value: { test(string) {
  if (this === null || (typeof this !== 'object' && typeof this !== 'function')) throw new TypeError('RegExp.prototype.test called on a non-object');
  return regExpExec(this, toStr(string)) !== null;
} }.test, writable: true, configurable: true, enumerable: false });
const speciesOf = rx => {
  const C = rx.constructor;
  return C === undefined || C === null || (typeof C !== 'object' && typeof C !== 'function') ? RegExp : C[Symbol.species];
};
for (const sym of [Symbol.match, Symbol.matchAll, Symbol.search, Symbol.split]) {
  const what = 'RegExp.prototype[' + String(sym).slice(7, -1) + ']';
  wrap(RP, sym, what, rx => {
    if (rx === null || (typeof rx !== 'object' && typeof rx !== 'function')) return;
    if (typeof rx.exec !== 'function') throw new TypeError(what + ': the RegExp\'s exec is not a function');
    if ((sym === Symbol.matchAll || sym === Symbol.split) && speciesOf(rx) !== RegExp && speciesOf(rx) !== undefined) {
      throw new TypeError(what + ': RegExp subclasses with their own species are not supported');
    }
  });
}

// JSON: bounded depth both ways; stringify in Go against the budget.
const origParse = JSON.parse;
defineProperty(JSON, 'parse', { value: { parse(text, reviver) {
  text = toStr(text);
  host.jsonScan(text);
  return apply(origParse, JSON, [text, reviver]);
} }.parse, writable: true, configurable: true, enumerable: false });
defineProperty(JSON, 'stringify', { value: { stringify(value, replacer, space) {
  return host.stringify(value, replacer, space);
} }.stringify, writable: true, configurable: true, enumerable: false });

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

// fetch (WHATWG-shaped) and an axios-compatible module. Both send through
// host.fetch, the embedder's HTTP stack: {method, url, headers: [[name,
// value]], body: string|null, timeout} in, {status, statusText, url,
// headers, body} out. Anything they cannot do as documented throws a
// TypeError naming it rather than sending something else.
const hostFetch = host.fetch;
const parseJSON = JSON.parse, stringifyJSON = JSON.stringify;
const objectKeys = Object.keys, assign = Object.assign;
const lowerName = s => toStr(s).toLowerCase();
const describe = x => x === null ? 'null' : isArray(x) ? 'an array' : typeof x === 'object' ? 'an object' : 'a ' + typeof x;
class Headers {
  #map = new Map(); // lower-case name -> value
  constructor(init) {
    if (init === undefined || init === null) return;
    if (typeof init !== 'object') throw new TypeError("Failed to construct 'Headers': the init must be an object or a list of [name, value] pairs");
    if (init instanceof Headers || typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        if (!isArray(pair) || pair.length !== 2) throw new TypeError("Failed to construct 'Headers': each header must be a [name, value] pair");
        this.append(pair[0], pair[1]);
      }
      return;
    }
    for (const k of objectKeys(init)) if (init[k] !== undefined) this.append(k, init[k]);
  }
  append(name, value) {
    const k = lowerName(name), v = toStr(value), old = this.#map.get(k);
    this.#map.set(k, old === undefined ? v : old + ', ' + v);
  }
  set(name, value) { this.#map.set(lowerName(name), toStr(value)); }
  get(name) { const v = this.#map.get(lowerName(name)); return v === undefined ? null : v; }
  has(name) { return this.#map.has(lowerName(name)); }
  delete(name) { this.#map.delete(lowerName(name)); }
  forEach(callback, thisArg) {
    if (typeof callback !== 'function') throw new TypeError('Headers.prototype.forEach: the callback is not a function');
    for (const [k, v] of this.entries()) apply(callback, thisArg, [v, k, this]);
  }
  *entries() { for (const k of [...this.#map.keys()].sort()) yield [k, this.#map.get(k)]; }
  *keys() { for (const [k] of this.entries()) yield k; }
  *values() { for (const [, v] of this.entries()) yield v; }
}
defineProperty(Headers.prototype, Symbol.iterator, { value: Headers.prototype.entries, writable: true, configurable: true, enumerable: false });
defineProperty(Headers.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true });
const headerPairs = h => { const out = []; for (const pair of h.entries()) out.push(pair); return out; };

// fetchBody is the text of a fetch request body: a string, or the form
// encoding of URLSearchParams. A plain object would be sent as "[object
// Object]" by the standard; that is never what the author meant.
function fetchBody(body, headers, what) {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    return body.toString();
  }
  throw new TypeError(what + ': the body must be a string or URLSearchParams, not ' + describe(body) + ' (send JSON as JSON.stringify(body) with a Content-Type header)');
}
const fetchInitKeys = ['method', 'headers', 'body', 'redirect'];
function checkInit(init, what) {
  for (const k of objectKeys(init)) {
    if (fetchInitKeys.indexOf(k) < 0) throw new TypeError(what + ': the option ' + stringifyJSON(k) + ' is not supported (supported: method, headers, body)');
  }
  if (init.redirect !== undefined && init.redirect !== 'follow') throw new TypeError(what + ': redirect ' + stringifyJSON(toStr(init.redirect)) + ' is not supported (only "follow")');
}
class Request {
  #body;
  constructor(input, init) {
    init = init === undefined || init === null ? {} : init;
    checkInit(init, "Failed to construct 'Request'");
    const from = input instanceof Request ? input : null;
    this.url = from ? from.url : toStr(input);
    this.method = init.method !== undefined ? toStr(init.method).toUpperCase() : from ? from.method : 'GET';
    this.headers = new Headers(init.headers !== undefined ? init.headers : from ? from.headers : undefined);
    this.#body = fetchBody(init.body !== undefined ? init.body : from ? from.#body : null, this.headers, "Failed to construct 'Request'");
    if (this.#body !== null && (this.method === 'GET' || this.method === 'HEAD')) throw new TypeError("Failed to construct 'Request': a GET or HEAD request cannot have a body");
  }
  static bodyOf(r) { return r.#body; }
  async text() { return this.#body === null ? '' : this.#body; }
  async json() { return parseJSON(await this.text()); }
}
class Response {
  #body; #used = false;
  constructor(body, init) {
    init = init === undefined || init === null ? {} : init;
    this.#body = body === undefined || body === null ? '' : fetchBody(body, new Headers(), "Failed to construct 'Response'");
    this.status = init.status === undefined ? 200 : +init.status;
    this.statusText = init.statusText === undefined ? '' : toStr(init.statusText);
    this.ok = this.status >= 200 && this.status <= 299;
    this.headers = new Headers(init.headers);
    this.url = init.url === undefined ? '' : toStr(init.url);
    this.redirected = false;
    this.type = 'default';
  }
  get bodyUsed() { return this.#used; }
  async text() {
    if (this.#used) throw new TypeError('Response.text: the body has already been read');
    this.#used = true;
    return this.#body;
  }
  async json() { return parseJSON(await this.text()); }
  clone() {
    if (this.#used) throw new TypeError('Response.clone: the body has already been read');
    return new Response(this.#body, { status: this.status, statusText: this.statusText, headers: this.headers, url: this.url });
  }
}
async function fetch(input, init) {
  const req = new Request(input, init);
  const res = await hostFetch({ method: req.method, url: req.url, headers: headerPairs(req.headers), body: Request.bodyOf(req), timeout: 0 });
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers, url: res.url });
}
for (const [name, value] of [['fetch', fetch], ['Headers', Headers], ['Request', Request], ['Response', Response]]) {
  defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
}

// axios: the request config keys it understands; any other is refused
// rather than ignored (a transformRequest or maxRedirects that silently
// does nothing sends something the author did not write).
const axiosVerbs = ['get', 'delete', 'head', 'options', 'post', 'put', 'patch'];
const axiosKeys = ['url', 'method', 'baseURL', 'headers', 'params', 'data', 'auth', 'timeout', 'validateStatus', 'responseType', 'withCredentials'];
class AxiosError extends Error {
  constructor(message, code, config, response) {
    super(message);
    this.name = 'AxiosError';
    this.isAxiosError = true;
    if (code !== undefined) this.code = code;
    this.config = config;
    if (response !== undefined) { this.response = response; this.status = response.status; }
  }
  toJSON() { return { name: this.name, message: this.message, code: this.code, status: this.status }; }
}
AxiosError.ERR_BAD_REQUEST = 'ERR_BAD_REQUEST';
AxiosError.ERR_BAD_RESPONSE = 'ERR_BAD_RESPONSE';
const hasHeader = (h, name) => { for (const k of objectKeys(h)) if (lowerName(k) === name) return true; return false; };
const headerValue = (h, name) => { for (const k of objectKeys(h)) if (lowerName(k) === name) return toStr(h[k]); return undefined; };
function axiosParams(params) {
  if (params instanceof URLSearchParams) return params.toString();
  if (typeof params !== 'object') throw new TypeError('axios: params must be an object or URLSearchParams, not ' + describe(params));
  const p = new URLSearchParams();
  for (const k of objectKeys(params)) {
    const v = params[k];
    if (v === undefined || v === null) continue;
    const list = isArray(v) ? v : [v];
    for (const x of list) {
      if (x === undefined || x === null) continue;
      if (typeof x === 'object' && !(x instanceof Date)) throw new TypeError('axios: the query parameter ' + stringifyJSON(k) + ' is ' + describe(x) + ', which has no query form here');
      p.append(isArray(v) ? k + '[]' : k, x instanceof Date ? x.toISOString() : x);
    }
  }
  return p.toString();
}
function axiosURL(config) {
  let url = config.url === undefined || config.url === null ? '' : toStr(config.url);
  if (config.baseURL !== undefined && config.baseURL !== null && !/^[a-z][a-z\d+.-]*:\/\//i.test(url)) {
    const base = toStr(config.baseURL);
    url = url === '' ? base : base.replace(/\/+$/, '') + '/' + url.replace(/^\/+/, '');
  }
  if (config.params !== undefined && config.params !== null) {
    const q = axiosParams(config.params);
    if (q !== '') url += (url.indexOf('?') >= 0 ? '&' : '?') + q;
  }
  return url;
}
// axiosBody encodes data as axios does: strings as they are,
// URLSearchParams as a form, plain objects and arrays as JSON (or as a
// form when the Content-Type says so).
function axiosBody(data, headers) {
  if (data === undefined || data === null) return null;
  if (typeof data === 'string') return data;
  if (data instanceof URLSearchParams) {
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded;charset=utf-8';
    return data.toString();
  }
  if (typeof data !== 'object' || ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
    throw new TypeError('axios: data must be a string, URLSearchParams, an object or an array, not ' + describe(data));
  }
  const type = headerValue(headers, 'content-type');
  if (type !== undefined && type.toLowerCase().indexOf('application/x-www-form-urlencoded') >= 0 && !isArray(data)) {
    const form = new URLSearchParams();
    for (const k of objectKeys(data)) {
      const v = data[k];
      if (v === undefined || v === null) continue;
      if (typeof v === 'object') throw new TypeError('axios: the form field ' + stringifyJSON(k) + ' is ' + describe(v) + ', which has no form encoding here');
      form.append(k, v);
    }
    return form.toString();
  }
  if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json';
  return stringifyJSON(data);
}
function axiosData(body, responseType) {
  if (responseType === 'text' || body === '') return body;
  try { return parseJSON(body); } catch (e) { return body; }
}
async function axiosRequest(config) {
  if (config === null || typeof config !== 'object') throw new TypeError('axios: the request config must be an object, not ' + describe(config));
  for (const k of objectKeys(config)) {
    if (axiosKeys.indexOf(k) < 0) throw new TypeError('axios: the config option ' + stringifyJSON(k) + ' is not supported (supported: ' + axiosKeys.join(', ') + ')');
  }
  const responseType = config.responseType === undefined ? 'json' : config.responseType;
  if (responseType !== 'json' && responseType !== 'text') throw new TypeError('axios: responseType ' + stringifyJSON(toStr(responseType)) + ' is not supported (json or text)');
  const method = (config.method === undefined ? 'get' : toStr(config.method)).toUpperCase();
  const headers = {};
  const addHeaders = (h, nested) => {
    for (const k of objectKeys(h)) {
      const v = h[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'object' && typeof v !== 'function') { headers[k] = toStr(v); continue; }
      // axios's defaults shape: headers.common and headers[method].
      const lk = lowerName(k);
      if (!nested && (lk === 'common' || axiosVerbs.indexOf(lk) >= 0)) {
        if (lk === 'common' || lk === method.toLowerCase()) addHeaders(v, true);
        continue;
      }
      throw new TypeError('axios: the header ' + stringifyJSON(k) + ' is ' + describe(v) + ', not a string');
    }
  };
  if (config.headers !== undefined && config.headers !== null) {
    const h = config.headers;
    if (h.common !== undefined && h.common !== null && typeof h.common === 'object') addHeaders({ common: h.common }, false);
    const rest = assign({}, h);
    delete rest.common;
    addHeaders(rest, false);
  }
  if (!hasHeader(headers, 'accept')) headers.Accept = 'application/json, text/plain, */*';
  if (config.auth !== undefined && config.auth !== null) {
    const user = toStr(config.auth.username === undefined ? '' : config.auth.username);
    const pass = toStr(config.auth.password === undefined ? '' : config.auth.password);
    headers.Authorization = 'Basic ' + host.btoa(unescape(encodeURIComponent(user + ':' + pass)));
  }
  const body = axiosBody(config.data, headers);
  const url = axiosURL(config);
  const timeout = +config.timeout > 0 ? +config.timeout : 0;
  const pairs = [];
  for (const k of objectKeys(headers)) pairs.push([k, headers[k]]);
  let res;
  try {
    res = await hostFetch({ method, url, headers: pairs, body, timeout });
  } catch (e) {
    // The request was not answered (refused, timed out, ...): the host's
    // error itself, marked as axios marks network errors, so that the
    // embedder still sees its cause.
    if (e !== null && typeof e === 'object') {
      e.isAxiosError = true;
      if (e.code === undefined) e.code = 'ERR_NETWORK';
      e.config = config;
    }
    throw e;
  }
  const resHeaders = {};
  for (const [k, v] of res.headers) resHeaders[lowerName(k)] = resHeaders[lowerName(k)] === undefined ? v : resHeaders[lowerName(k)] + ', ' + v;
  const response = { data: axiosData(res.body, responseType), status: res.status, statusText: res.statusText, headers: resHeaders, config };
  const validate = config.validateStatus === undefined ? (s => s >= 200 && s < 300) : config.validateStatus;
  if (validate === null || validate(res.status)) return response;
  throw new AxiosError('Request failed with status code ' + res.status, res.status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE, config, response);
}
function mergeConfig(a, b) {
  const out = assign({}, a, b);
  out.headers = assign({}, a.headers, b.headers);
  return out;
}
function createAxios(defaults) {
  const instance = function axios(configOrUrl, config) {
    return typeof configOrUrl === 'string' ? instance.request(assign({}, config, { url: configOrUrl })) : instance.request(configOrUrl);
  };
  instance.defaults = defaults;
  instance.request = function request(config) {
    if (config === null || typeof config !== 'object') throw new TypeError('axios: the request config must be an object, not ' + describe(config));
    return axiosRequest(mergeConfig(defaults, config));
  };
  for (const m of ['get', 'delete', 'head', 'options']) instance[m] = (url, config) => instance.request(assign({}, config, { method: m, url }));
  for (const m of ['post', 'put', 'patch']) instance[m] = (url, data, config) => instance.request(assign({}, config, { method: m, url, data }));
  instance.create = d => createAxios(mergeConfig(defaults, d === undefined || d === null ? {} : d));
  instance.isAxiosError = e => e !== null && typeof e === 'object' && e.isAxiosError === true;
  instance.AxiosError = AxiosError;
  instance.default = instance;
  return instance;
}
const axios = createAxios({ headers: {} });

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
return { sdk: freeze(sdk), axios };
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
