package jsrt

import (
	"context"
	"errors"
	"fmt"

	"github.com/dop251/goja"
)

// HostFunc is a Go function exposed to JavaScript. Placed anywhere in the
// input of a call (for example input["apiClient"] = map[string]any{"get":
// HostFunc(...)}), it appears to the method as a function returning a
// Promise.
//
// It receives the call's context, which is done when the call's time limit
// passes or the caller's context is done, and the JavaScript arguments
// converted to plain Go values (map[string]any, []any, string, int64 or
// float64, bool, nil; functions dropped, as for results). It is called
// synchronously on the call's goroutine, so it must not keep the call
// waiting past the context being done. Its result is converted as Call's
// input is and resolves the promise; its error rejects the promise (see
// ErrorClass), and so does a panic.
type HostFunc func(ctx context.Context, args []any) (any, error)

// ErrorClass is implemented by errors that a HostFunc returns to reject with
// an instance of a particular JavaScript error class, so that methods can
// write `catch (e) { if (e instanceof ConnectionError && e.key ===
// 'access_token_expired') ... }`.
//
// JSErrorClass returns the class name, which is one of the SDK error classes
// (IntegrationAppError, BadRequestError, ConnectionError, AccessDeniedError,
// NotFoundError, RateLimitExceededError, InternalError,
// NotAuthenticatedError, DependencyError, UnitRunError) or of the standard
// ones (Error, TypeError, RangeError, ...) — another name makes an Error with
// that name — and the message, key and data to construct it with (an empty
// key and nil data are left out). errors.As finds the ErrorClass in a
// wrapped error.
type ErrorClass interface {
	JSErrorClass() (name, message, key string, data any)
}

// JSErrorClass returns e's name, message, key and data, so that a HostFunc
// can pass on an *Error (from a nested call, say) as an error of the same
// class.
func (e *Error) JSErrorClass() (name, message, key string, data any) {
	return e.Name, e.Message, e.Key, e.Data
}

// sdkErrorClasses are the error classes the SDK module exports.
var sdkErrorClasses = []string{
	"IntegrationAppError", "BadRequestError", "ConnectionError", "AccessDeniedError", "NotFoundError",
	"RateLimitExceededError", "InternalError", "NotAuthenticatedError", "DependencyError", "UnitRunError",
}

// standardErrorClasses are the ECMAScript error constructors that host
// errors may name.
var standardErrorClasses = []string{"Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "URIError", "EvalError"}

// hostFunc wraps f as a JavaScript function of the current call.
func (v *vm) hostFunc(f HostFunc) goja.Value {
	// Captured now: the function belongs to this call only.
	ctx, maxArray := v.ctx, v.maxArray
	return v.r.ToValue(func(call goja.FunctionCall) goja.Value {
		return v.invokeHost(ctx, maxArray, f, call)
	})
}

// fetchRequest is the prelude's host.fetch: one request through the
// current call's Options.Fetch, as a Promise.
func (v *vm) fetchRequest(call goja.FunctionCall) goja.Value {
	if v.fetch == nil {
		promise, _, reject := v.r.NewPromise()
		must(reject(v.errorValue(&Error{Name: "TypeError", Message: "fetch failed: no HTTP is available to this method"})))
		return v.r.ToValue(promise)
	}
	fetch, maxString := v.fetch, v.maxString
	bounded := func(ctx context.Context, args []any) (any, error) {
		res, err := fetch(ctx, args)
		// The body becomes one string: the same budget as any other.
		if m, ok := res.(map[string]any); ok && err == nil {
			if body, _ := m["body"].(string); len(body) > maxString {
				return nil, &Error{Name: "RangeError", Message: fmt.Sprintf("fetch: the response body of %d bytes exceeds the limit of %d", len(body), maxString), cause: ErrMemoryLimit}
			}
		}
		return res, err
	}
	return v.invokeHost(v.ctx, v.maxArray, bounded, call)
}

// invokeHost calls f with call's arguments converted to Go values and
// returns a Promise of its result.
func (v *vm) invokeHost(ctx context.Context, maxArray int, f HostFunc, call goja.FunctionCall) goja.Value {
	// Conversions may run the method's own code (getters, toJSON), so
	// exceptions and interrupts from them propagate as usual.
	args := make([]any, len(call.Arguments))
	var err error
	for i, a := range call.Arguments {
		if args[i], err = v.fromJS(a, maxArray); err != nil {
			break
		}
	}
	var res any
	if err == nil {
		res, err = callHost(ctx, f, args)
	}
	var val goja.Value
	if err == nil {
		val, err = v.toJS(res, 0)
	}
	promise, resolve, reject := v.r.NewPromise()
	if err != nil {
		must(reject(v.errorValue(err)))
	} else {
		must(resolve(val))
	}
	return v.r.ToValue(promise)
}

// callHost calls f unless the call is already over, turning a panic into an
// error.
func callHost(ctx context.Context, f HostFunc, args []any) (res any, err error) {
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	defer func() {
		if rec := recover(); rec != nil {
			res, err = nil, fmt.Errorf("jsrt: host function panicked: %v", rec)
		}
	}()
	return f(ctx, args)
}

// errorValue makes the JavaScript error object that a HostFunc's err
// rejects with, and remembers err for the *Error it may become.
func (v *vm) errorValue(err error) *goja.Object {
	name, msg, key, data := "Error", err.Error(), "", any(nil)
	var ec ErrorClass
	if errors.As(err, &ec) {
		name, msg, key, data = ec.JSErrorClass()
		if name == "" {
			name = "Error"
		}
	}
	var dataVal goja.Value
	if data != nil {
		if dv, derr := v.toJS(data, 0); derr == nil {
			dataVal = dv
		}
	}
	r := v.r
	var obj *goja.Object
	var nerr error
	if ctor := v.sdkErrors[name]; ctor != nil {
		arg := r.NewObject()
		must(arg.Set("message", msg))
		if key != "" {
			must(arg.Set("key", key))
		}
		if dataVal != nil {
			must(arg.Set("data", dataVal))
		}
		obj, nerr = r.New(ctor, arg)
	} else {
		ctor := v.stdErrors[name]
		if ctor == nil {
			ctor = v.errorCtor
		}
		obj, nerr = r.New(ctor, r.ToValue(msg))
		if nerr == nil {
			if ctor == v.errorCtor && name != "Error" {
				must(obj.DefineDataProperty("name", r.ToValue(name), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
			}
			if key != "" {
				must(obj.Set("key", key))
			}
			if dataVal != nil {
				must(obj.Set("data", dataVal))
			}
		}
	}
	if nerr != nil {
		panic(nerr) // the constructors are the runtime's own and do not throw
	}
	if v.hostErrs == nil {
		v.hostErrs = make(map[*goja.Object]error)
	}
	v.hostErrs[obj] = err
	return obj
}
