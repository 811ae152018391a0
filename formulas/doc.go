// Package formulas compiles and evaluates integration.app formulas, the small
// language that connector mappings use to build values from variables.
//
// A mapping is any YAML (or decoded JSON) value. An object whose first key is
// a known formula name, such as {$var: credentials.token}, is a formula; every
// other object, array and scalar is literal and is copied to the result with
// its formulas evaluated. Compile a mapping once with [Compile] or
// [CompileValue] and evaluate it as often as needed with [Mapping.Evaluate];
// a compiled [Mapping] is immutable and safe for concurrent use.
//
// # Formulas
//
//   - $var: locator. Reads a variable. "$.a.b[0]" and "a.b[0]" are the same
//     locator; "$" (or "$.") is the whole variable set. "\." and "\[" put a
//     dot or bracket inside a key, "\\" a backslash. A missing path is
//     undefined, not an error.
//   - $tpl: {template, values}. Replaces each {name} in the template with the
//     string form of values.name; a missing value gives the empty string. A
//     placeholder name is made of letters, digits and "_", "-", ".", "$";
//     other braces (a JSON body, say) are kept as text.
//   - $template: "Bearer ${credentials.apiKey}". Replaces each ${locator}
//     with the string form of the variable, read as $var reads it. A
//     placeholder holds only a locator (an expression such as ${base64(x)}
//     is a compile error), and an undefined or null variable is an
//     evaluation error rather than an empty string. There is no escape for
//     a literal "${".
//   - $concat: [a, b] or {values: [a, b], delimiter: ", "}. Joins the string
//     forms of the items that are not undefined, null or "".
//   - $firstNotEmpty: [a, b]. The first item that is not undefined, null or "".
//   - $case: {cases: [{filter, value}], default}, or the list of cases
//     alone. The value of the first case whose filter holds, else default
//     (undefined when absent). A filter is a list of {field, operator,
//     value} conditions that must all hold (field is a locator, operator one
//     of the $eval operators, value absent for isEmpty and isNotEmpty; an
//     empty list always holds), or a formula such as $eval whose result is
//     truthy. A case without filter always matches. An unknown operator or
//     key, or a filter that is a plain object, is a compile error.
//   - $eval: value, with exactly one operator key next to it: is, isNot,
//     oneOf, noneOf, contains, doesNotContain, gt, gte, lt, lte, isEmpty,
//     isNotEmpty. Gives true or false.
//   - $and: [conditions], $or: [conditions]. Give true or false.
//   - $map: {value, mapping: [{from, to}], default}. "mappings" is accepted
//     for "mapping". Without a match the result is default, or undefined
//     when no default key is written (the reference: "the output will be
//     empty").
//   - $iterate: {source, item}. Evaluates item once per element of the source
//     array. Inside item the variables are $.item (the element), $.index (its
//     zero-based position) and $.parent (the variables around the $iterate;
//     in a nested $iterate, the outer item's, so $.parent.item is the outer
//     element). Any other locator inside item is a compile error. A missing
//     or null source gives undefined; a source that is another kind of value
//     (a string, an object) is an evaluation error.
//   - $mergeObjects: [objects]. Shallow merge, later keys win, non-objects
//     are skipped; undefined when there is no object at all.
//   - $copy: locator. The evaluated value of a sibling field of the nearest
//     enclosing literal object: {$copy: email} or {$copy: address.city}.
//     Fields are evaluated in dependency order; cycles are compile errors.
//   - $plain: value. The value as written; formulas inside are not evaluated.
//   - $formula: value. The value as written, formulas included, except that
//     each {$var: locator} inside is replaced by the variable's value, so the
//     result can be a formula built from variables. A $var without a value
//     is an evaluation error.
//   - $firstName: name, $lastName: name. The first word of a full name, or
//     the words after it; a one-word name is a last name (so $firstName of
//     it is undefined). A name that is not a string is an evaluation error.
//   - $expr: "expression". A github.com/expr-lang/expr expression run against
//     the variables (inside $iterate, against item, index and parent).
//     Unknown variables are nil; member access on nil is a runtime error, so
//     write credentials?.token when a variable may be missing. A nil result
//     is undefined.
//
// The formulas of integration.app's reference that need its platform
// ($lookup, $findExternalRecordId, $findAppRecordId, $dataSchemaRef) and
// $jsonata are compile errors that name the formula and the reason. Any
// other $-key is a compile error when it is first in its object (an unknown
// formula) and a warning elsewhere (it is sent as a literal key).
//
// Lists given to $concat, $firstNotEmpty, $and, $or, $mergeObjects, oneOf
// and noneOf may also be a formula that gives an array at run time.
//
// # Values
//
// Scalars decode to string, int64, float64, bool or nil. Variables may hold
// map[string]any, []any, strings, any Go integer or float type, json.Number
// and bool; other maps with string keys, slices and arrays are read through
// reflection. Numbers compare by value whatever their Go type; a string never
// equals a number, except that gt, gte, lt and lte compare numeric strings as
// numbers (two non-numeric strings compare as text). Truthiness follows
// JavaScript: undefined, null, false, 0, NaN and "" are false, everything
// else, empty arrays and objects included, is true. The string form of null
// and undefined is "", of an object or array its JSON text.
//
// # Undefined is dropped
//
// In a literal object, keys whose value is undefined are left out; in a
// literal array, undefined items are left out. An object or array that
// becomes empty that way is itself undefined, while a {}, [] or null written
// in the mapping is kept. An undefined result of the whole mapping is nil.
package formulas
