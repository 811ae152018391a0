// Package jsrt compiles and runs connector methods written in JavaScript or
// TypeScript (integration.app Connector Builder style ES modules) in a sandbox.
//
// Compile transforms a source file with esbuild (TypeScript types are
// stripped, modern syntax is lowered to what goja runs), checks its imports
// and that it has a default export function, and compiles it once into an
// immutable goja program. Call runs the default export with one input value
// and returns its result, awaited and converted to plain Go values.
//
// The sandbox has no require (other than the built-in SDK module and axios),
// no process, XMLHttpRequest, file system, eval or BigInt (whose
// operators goja does not bound: 1n << 100000000000n would allocate 12.5 GB
// at once). Each call has a time limit, a call-stack limit, and an output
// budget for built-ins that could allocate far more than their input in one
// native step (see Options); JSON is nested at most MaxJSONDepth levels, and
// regular expressions that need backtracking stop at the time limit. Besides
// the ECMAScript built-ins, methods get console (logged to Options.Logger
// with Options.Secrets redacted), btoa, atob and URLSearchParams, and fetch
// (with Headers, Request and Response) and an axios-compatible module whose
// requests all go through Options.Fetch, the embedder's HTTP stack.
//
// Host functions: a HostFunc placed anywhere in a call's input appears to the
// method as an async function, so the engine can hand methods a live API
// client (`await apiClient.get('/me')`). It runs synchronously on the call's
// goroutine with the call's context. A Go error it returns rejects the
// promise: one that implements ErrorClass (as *Error does) with an instance
// of the named SDK error class (ConnectionError with its key, ...), any
// other with a plain Error. Uncaught, such a rejection comes back out of Call
// as an *Error of the same class and key that unwraps to the Go error.
//
// Isolation: by default calls reuse pooled runtimes whose built-in objects
// are deeply frozen at creation and which get a fresh global object and a
// fresh module instance for every call, so nothing one call stores can be seen
// by another. Options.FreshRuntime uses a brand-new runtime per call instead,
// with unfrozen built-ins, for code that must patch them.
package jsrt

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Problem is a compile-time problem in a method's source. Line and Column are
// 1-based positions in the original (untransformed) file; Column counts bytes.
// File is the file they are in: the method's own file name, or the path (in
// the connector's fs.FS) of a file it imports.
type Problem struct {
	File         string
	Line, Column int
	Message      string
}

// String renders the problem as "LINE:COL: MESSAGE".
func (p Problem) String() string {
	return fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Message)
}

// Options tune one call. The zero value means the defaults noted per field.
type Options struct {
	// Timeout bounds the wall time of a call, including awaiting its promise.
	// Default 10s.
	Timeout time.Duration
	// MaxCallStackSize bounds the JavaScript call depth. Default 1024.
	MaxCallStackSize int
	// MaxStringLength is the output budget for strings: a built-in that
	// can make a string much longer than its input (repeat, padStart,
	// padEnd, concat, join, replace, replaceAll, String.raw, toUpperCase,
	// normalize, encodeURIComponent, escape, btoa, atob, URLSearchParams,
	// the join of typed arrays) is refused before it allocates more than
	// this many UTF-16 units; JSON.stringify output is bounded to this many
	// bytes as it is written, and ArrayBuffers and typed arrays to this many
	// bytes. Built-ins whose output can be k times their input refuse
	// inputs longer than MaxStringLength/k (toUpperCase k=3, normalize k=4 or
	// 18, encodeURIComponent k=9, escape k=6). Default 16 MiB.
	MaxStringLength int
	// MaxArrayLength bounds the length of arrays that built-ins are asked to
	// create or walk (Array(n), fill, join, indexOf, apply, spread, concat,
	// flat, flatMap, Array.from, Object.keys and the like of strings and
	// typed arrays, the characters of a string, the values in a JSON.parse
	// text, ...). Default 1<<22.
	MaxArrayLength int
	// MaxHeapGrowth stops a call when the process's live heap grows by more
	// than this many bytes while the call runs (checked every few ms after
	// garbage collections). It is process-wide, so under heavy concurrent
	// load a call running next to a runaway one may be stopped too.
	// Default 512 MiB; negative disables the check.
	MaxHeapGrowth int64
	// FreshRuntime runs the call in a new runtime with unfrozen built-ins
	// instead of a pooled one. Slower; for code that patches built-ins.
	FreshRuntime bool
	// Logger receives console.* output: console.debug and console.trace at
	// debug level, console.log and console.info at info, console.warn at
	// warn and console.error at error. The message is the formatted
	// arguments (printf-style %s, %d, %i, %f, %j, %o, %O in the first one;
	// objects as JSON) with Secrets redacted and cut at 16 KiB; the
	// attributes are "file" (the method's file name) and "console" (the
	// console method). Nil discards console output.
	Logger *slog.Logger
	// Secrets are strings, such as the credentials handed to the method,
	// that must not leave the sandbox through logs or errors: every
	// occurrence in console output and in the Message, Key and the strings
	// in Data of an *Error returned by the call is replaced by "[REDACTED]".
	// Their escaped, encoded and base64 forms and long fragments are redacted
	// too (internal/redact, as in the engine). Strings
	// shorter than 4 bytes are ignored, since redacting them would mangle
	// unrelated text.
	Secrets []string
	// Fetch sends the HTTP requests of the fetch global and the axios
	// module. It gets one argument, the request as a map: "method",
	// "url", "headers" (a list of [name, value] pairs), "body" (a string,
	// or nil) and "timeout" (milliseconds, 0 for none); it returns the
	// answer as a map: "status" (a number), "statusText", "url" (the final
	// URL), "headers" (a list of [name, value] pairs) and "body" (a
	// string). Its error rejects the request's promise. Nil: fetch and
	// axios reject every request with a TypeError saying no HTTP is
	// available to the method.
	Fetch HostFunc
}

const (
	defaultTimeout       = 10 * time.Second
	defaultMaxStack      = 1024
	defaultMaxString     = 16 << 20
	defaultMaxArray      = 1 << 22
	defaultMaxHeapGrowth = 512 << 20
	// CompileTimeout bounds the top-level code of a module when Compile
	// runs it to find the default export.
	CompileTimeout = time.Second
)

// DefaultOptions returns the limits a call gets when Options leaves them
// zero (the generated docs/reference/javascript.md prints them).
func DefaultOptions() Options { return Options{}.withDefaults() }

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxCallStackSize <= 0 {
		o.MaxCallStackSize = defaultMaxStack
	}
	if o.MaxStringLength <= 0 {
		o.MaxStringLength = defaultMaxString
	}
	if o.MaxArrayLength <= 0 {
		o.MaxArrayLength = defaultMaxArray
	}
	if o.MaxHeapGrowth == 0 {
		o.MaxHeapGrowth = defaultMaxHeapGrowth
	}
	return o
}

// Error is an exception thrown (or a promise rejection) by a method, or a
// limit that stopped it. Name is the error class name ("ConnectionError",
// "TypeError", ...), Key the ConnectionError key if any, Data the error's data
// converted to Go values. File, Line and Column locate the error in the
// original source when known (Line is 0 otherwise).
//
// *Error implements ErrorClass, so a HostFunc can return one to reject with
// an instance of that class.
type Error struct {
	Name, Message, Key string
	Data               any
	File               string
	Line, Column       int

	cause error // a limit or context error that stopped the call
	host  error // the HostFunc error whose rejection this is

	export *exportProblem // set when the module exports no usable function
}

// Error renders "FILE:LINE:COL: NAME: MESSAGE", leaving out what is unknown.
func (e *Error) Error() string {
	s := e.Name
	if e.Message != "" {
		if s != "" {
			s += ": "
		}
		s += e.Message
	}
	if e.Key != "" {
		s += " (" + e.Key + ")"
	}
	if e.Line > 0 {
		s = fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, s)
	}
	return s
}

// Unwrap returns ErrTimeout, ErrMemoryLimit, ErrStackOverflow or a context
// error when one of those stopped the call; else, when the exception is the
// rejection of a HostFunc call, the error the HostFunc returned; else nil.
func (e *Error) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	return e.host
}

// limitError is a sentinel that also matches another error with errors.Is.
type limitError struct {
	msg  string
	also error
}

func (e *limitError) Error() string { return e.msg }

func (e *limitError) Is(target error) bool { return e.also != nil && target == e.also }

var (
	// ErrTimeout reports that a call ran past Options.Timeout. It also
	// matches context.DeadlineExceeded with errors.Is.
	ErrTimeout error = &limitError{"jsrt: time limit exceeded", context.DeadlineExceeded}
	// ErrMemoryLimit reports that a built-in refused to allocate above a
	// limit or that the heap grew past Options.MaxHeapGrowth.
	ErrMemoryLimit error = &limitError{msg: "jsrt: memory limit exceeded"}
	// ErrStackOverflow reports that the call stack grew past
	// Options.MaxCallStackSize.
	ErrStackOverflow error = &limitError{msg: "jsrt: maximum call stack size exceeded"}
	// ErrNotSettled reports that the promise a method returned can never
	// settle (nothing is left that could resolve it).
	ErrNotSettled error = &limitError{msg: "jsrt: the returned promise never settled"}
)
