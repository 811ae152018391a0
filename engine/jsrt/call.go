package jsrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// Call runs p's default export with input and default Options. See
// Program.Call.
func Call(ctx context.Context, p *Program, input any) (any, error) {
	return p.Call(ctx, input)
}

// Call runs the default export with input (converted deeply to JavaScript
// values: maps, slices, strings, numbers, bools, nil; HostFuncs become
// async functions; other types go through encoding/json) and returns its result converted to plain Go values:
// map[string]any, []any, string, int64 or float64, bool, or nil. A returned
// promise is awaited. Functions and symbols are dropped from objects (nil in
// arrays), undefined becomes nil, Dates become RFC 3339 strings, a
// URLSearchParams becomes its form-encoded string, and a RestApiClient
// becomes the options it was constructed with.
//
// opts holds at most one Options; omitted fields take their defaults. A
// thrown exception or rejection comes back as *Error, with Options.Secrets
// redacted; running out of time or ctx being done stops the method and
// returns an *Error that unwraps to ErrTimeout (and
// context.DeadlineExceeded) or the context's error.
func (p *Program) Call(ctx context.Context, input any, opts ...Options) (any, error) {
	if p == nil || p.prog == nil {
		return nil, errors.New("jsrt: Call on a nil Program")
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	var out any
	err := p.run(ctx, o, func(v *vm, def goja.Value) error {
		in, err := v.toJS(input, 0)
		if err != nil {
			return err
		}
		fn, _ := goja.AssertFunction(def)
		ret, err := fn(goja.Undefined(), in)
		if err != nil {
			return err
		}
		if ret, err = v.await(ret); err != nil {
			return err
		}
		out, err = v.fromJS(ret, o.MaxArrayLength)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ctxInterrupt marks an interrupt caused by the context.
type ctxInterrupt struct{ err error }

// run instantiates the module in a sandbox with the watchdogs armed and hands
// the function it exports for the method (see pick) to body.
func (p *Program) run(ctx context.Context, o Options, body func(v *vm, def goja.Value) error) (err error) {
	if err := ctx.Err(); err != nil {
		return &Error{Message: "jsrt: not started: " + err.Error(), File: p.filename, cause: ctxCause(err)}
	}
	v, err := getVM(o.FreshRuntime)
	if err != nil {
		return err
	}
	reusable := false
	defer func() {
		if rec := recover(); rec != nil {
			err, reusable = fmt.Errorf("jsrt: internal error: %v", rec), false
		}
		v.release()
		if reusable {
			pool.Put(v)
		}
	}()
	v.setLimits(o)
	v.filename = p.filename
	v.prog = p
	if v.frozen {
		v.freshGlobal()
	}
	r := v.r
	// callCtx is what HostFuncs get: done at the time limit too.
	callCtx, cancel := context.WithTimeoutCause(ctx, o.Timeout, ErrTimeout)
	defer cancel()
	v.ctx = callCtx
	stopCtx := context.AfterFunc(callCtx, func() {
		if err := ctx.Err(); err != nil {
			r.Interrupt(ctxInterrupt{err})
		} else {
			r.Interrupt(ErrTimeout)
		}
	})
	var unwatch func() bool
	if o.MaxHeapGrowth > 0 {
		unwatch = watchHeap(uint64(o.MaxHeapGrowth), func() { r.Interrupt(ErrMemoryLimit) })
	}

	err = v.protect(func() error {
		exports, err := v.module(p)
		if err != nil {
			return err
		}
		fn, err := p.pick(exports)
		if err != nil {
			return err
		}
		return body(v, fn)
	})
	if err != nil {
		err = v.toError(err)
	}

	clean := stopCtx()
	if unwatch != nil {
		clean = unwatch() && clean
	}
	var je *Error
	errors.As(err, &je)
	if callCtx.Err() != nil && (je == nil || je.cause == nil) {
		// Time ran out, but the method finished before the interrupt hit,
		// e.g. after a HostFunc returned the context's error: the call
		// still failed, and because of that.
		cause, msg := ErrTimeout, ErrTimeout.Error()
		if cerr := ctx.Err(); cerr != nil {
			cause, msg = ctxCause(cerr), "jsrt: stopped: "+cerr.Error()
		}
		if je != nil {
			je.cause = cause
		} else if err == nil {
			je = &Error{Message: msg, File: p.filename, cause: cause}
			err = je
		}
	}
	if je != nil {
		v.redact.error(je)
	}
	reusable = v.frozen && clean && (err == nil || je != nil && je.cause == nil)
	if reusable {
		r.ClearInterrupt()
	}
	return err
}

func ctxCause(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.Join(ErrTimeout, err)
	}
	return err
}

// protect runs f, turning panics from goja (exceptions, interrupts) into
// errors.
func (v *vm) protect(f func() error) (err error) {
	defer func() {
		if rec := recover(); rec != nil {
			switch x := rec.(type) {
			case *goja.Exception:
				err = x
			case *goja.InterruptedError:
				err = x
			case *goja.StackOverflowError:
				err = x
			default:
				err = fmt.Errorf("jsrt: internal error: %v", rec)
			}
		}
	}()
	return f()
}

// await settles a returned thenable. The job queue has already run when
// control came back to Go, so a promise still pending can never settle.
func (v *vm) await(ret goja.Value) (goja.Value, error) {
	obj, ok := ret.(*goja.Object)
	if !ok {
		return ret, nil
	}
	if _, ok := goja.AssertFunction(obj.Get("then")); !ok {
		return ret, nil
	}
	pv, err := v.resolve(obj)
	if err != nil {
		return nil, err
	}
	pr, ok := pv.Export().(*goja.Promise)
	if !ok {
		return nil, errors.New("jsrt: Promise.resolve did not return a promise")
	}
	switch pr.State() {
	case goja.PromiseStateFulfilled:
		return pr.Result(), nil
	case goja.PromiseStateRejected:
		return nil, v.jsError(pr.Result(), nil)
	}
	return nil, &Error{Message: ErrNotSettled.Error(), File: v.filename, cause: ErrNotSettled}
}

// toError maps what goja returned to *Error.
func (v *vm) toError(err error) error {
	var je *Error
	if errors.As(err, &je) {
		if je.File == "" {
			je.File = v.filename
		}
		return je
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		switch c := ie.Value().(type) {
		case ctxInterrupt:
			return &Error{Message: "jsrt: stopped: " + c.err.Error(), File: v.filename, cause: ctxCause(c.err)}
		case error:
			return &Error{Message: c.Error(), File: v.filename, cause: c}
		}
		return &Error{Message: "jsrt: interrupted", File: v.filename, cause: ErrTimeout}
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return &Error{Name: "RangeError", Message: "maximum call stack size exceeded", File: v.filename, cause: ErrStackOverflow}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		var out *Error
		perr := v.protect(func() error {
			out = v.jsError(ex.Value(), ex.Stack())
			return nil
		})
		if perr != nil {
			var stopped *goja.InterruptedError
			if errors.As(perr, &stopped) {
				// A limit (time, heap, the context) stopped the call while
				// the exception was read, say in a getter that never
				// returns or after a slow built-in threw: report the limit,
				// so that errors.Is(err, ErrTimeout) and the like hold.
				return v.toError(perr)
			}
			return &Error{Name: "Error", Message: "an exception was thrown (its details could not be read)", File: v.filename}
		}
		return out
	}
	return &Error{Message: err.Error(), File: v.filename, cause: err}
}

// jsError describes a thrown value. It reads properties of the value, so
// callers run it under protect.
func (v *vm) jsError(val goja.Value, stack []goja.StackFrame) *Error {
	e := &Error{Name: "Error", File: v.filename}
	obj, isObj := val.(*goja.Object)
	if !isObj {
		if val == nil || goja.IsUndefined(val) {
			e.Message = "undefined"
		} else {
			e.Message = val.String()
			e.Data = val.Export()
		}
		v.position(e, stack, nil)
		return e
	}
	if _, ok := v.guardErrs[obj]; ok {
		e.cause = ErrMemoryLimit
	}
	e.host = v.hostErrs[obj]
	isErr := v.r.InstanceOf(obj, v.errorCtor)
	name, hasName := stringProp(obj, "name")
	msg, hasMsg := stringProp(obj, "message")
	if isErr || hasName || hasMsg {
		if name != "" {
			e.Name = name
		}
		e.Message = msg
		e.Key, _ = stringProp(obj, "key")
		if d := obj.Get("data"); d != nil && !goja.IsUndefined(d) {
			e.Data, _ = v.fromJS(d, defaultMaxArray)
		}
	} else {
		e.Message = "a non-Error object was thrown"
		e.Data, _ = v.fromJS(obj, defaultMaxArray)
	}
	v.position(e, stack, obj)
	return e
}

func stringProp(obj *goja.Object, name string) (string, bool) {
	val := obj.Get(name)
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return "", false
	}
	if _, ok := val.(*goja.Object); ok {
		return "", false
	}
	return val.String(), true
}

var stackLine = regexp.MustCompile(`at (?:[^(]* \()?(.+?):(\d+):(\d+)\(\d+\)\)?\s*$`)

// position sets e's line and column from the first stack frame in the
// method's own file: the exception's stack if there is one, else the error
// object's stack property.
func (v *vm) position(e *Error, stack []goja.StackFrame, obj *goja.Object) {
	for _, f := range stack {
		if f.SrcName() != v.prog.filename {
			continue
		}
		if pos := f.Position(); pos.Line > 0 {
			e.File, e.Line, e.Column = v.prog.original(pos.Line, pos.Column)
			return
		}
	}
	if obj == nil {
		return
	}
	s, ok := stringProp(obj, "stack")
	if !ok {
		return
	}
	for _, line := range strings.Split(s, "\n") {
		m := stackLine.FindStringSubmatch(line)
		if m == nil || m[1] != v.prog.filename {
			continue
		}
		l, _ := strconv.Atoi(m[2])
		c, _ := strconv.Atoi(m[3])
		e.File, e.Line, e.Column = v.prog.original(l, c)
		return
	}
}

const maxDepth = 100

// toJS converts a Go value into fresh JavaScript values (never live Go
// wrappers, so a method cannot modify the caller's data).
func (v *vm) toJS(x any, depth int) (goja.Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("jsrt: input nested too deeply (more than %d levels; cyclic?)", maxDepth)
	}
	r := v.r
	switch t := x.(type) {
	case nil:
		return goja.Null(), nil
	case HostFunc:
		if t == nil {
			return goja.Null(), nil
		}
		return v.hostFunc(t), nil
	case map[string]HostFunc:
		obj := r.NewObject()
		for k, f := range t {
			fv, err := v.toJS(f, depth+1)
			if err != nil {
				return nil, err
			}
			setOwn(obj, k, fv)
		}
		return obj, nil
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return r.ToValue(t), nil
	case map[string]any:
		obj := r.NewObject()
		for k, e := range t {
			ev, err := v.toJS(e, depth+1)
			if err != nil {
				return nil, err
			}
			setOwn(obj, k, ev)
		}
		return obj, nil
	case map[string]string:
		obj := r.NewObject()
		for k, e := range t {
			setOwn(obj, k, r.ToValue(e))
		}
		return obj, nil
	case []any:
		items := make([]any, len(t))
		for i, e := range t {
			ev, err := v.toJS(e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = ev
		}
		return r.NewArray(items...), nil
	case []string:
		items := make([]any, len(t))
		for i, e := range t {
			items[i] = e
		}
		return r.NewArray(items...), nil
	case time.Time:
		return r.ToValue(t.Format(time.RFC3339Nano)), nil
	}
	plain, err := jsonRoundTrip(x)
	if err != nil {
		return nil, fmt.Errorf("jsrt: converting input: %w", err)
	}
	return v.toJS(plain, depth)
}

// setOwn makes key an ordinary own property of obj. Assignment would not:
// "__proto__" would set obj's prototype to a value from the caller's data.
func setOwn(obj *goja.Object, key string, val goja.Value) {
	must(obj.DefineDataProperty(key, val, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE))
}

func jsonRoundTrip(x any) (any, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

// dropped marks a value (function, symbol) that has no Go form.
type droppedValue struct{}

var dropped = droppedValue{}

// fromJS converts a JavaScript value to plain Go values.
func (v *vm) fromJS(val goja.Value, maxArray int) (any, error) {
	out, err := v.convert(val, 0, maxArray, make(map[*goja.Object]bool))
	if out == dropped {
		out = nil
	}
	return out, err
}

func (v *vm) convert(val goja.Value, depth, maxArray int, path map[*goja.Object]bool) (any, error) {
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return nil, nil
	}
	obj, ok := val.(*goja.Object)
	if !ok {
		switch x := val.Export().(type) {
		case *big.Int:
			return x.String(), nil
		case string, bool, int64, float64:
			return x, nil
		default:
			return dropped, nil // symbols
		}
	}
	if _, ok := goja.AssertFunction(obj); ok {
		return dropped, nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("jsrt: result nested too deeply (more than %d levels)", maxDepth)
	}
	if path[obj] {
		return nil, errors.New("jsrt: result is cyclic")
	}
	path[obj] = true
	defer delete(path, obj)
	if v.isRestClient(obj) {
		return v.convert(obj.Get("options"), depth+1, maxArray, path)
	}
	if v.r.InstanceOf(obj, v.searchParams) {
		s, err := v.searchParamsString(obj)
		rethrowUncatchable(err)
		if err != nil {
			return nil, err
		}
		return s.String(), nil
	}
	switch obj.ClassName() {
	case "Array":
		n := obj.Get("length").ToInteger()
		if n > int64(maxArray) {
			return nil, &Error{Message: fmt.Sprintf("jsrt: result array of %d elements exceeds the limit of %d", n, maxArray), File: v.filename, cause: ErrMemoryLimit}
		}
		out := make([]any, n)
		for i := range out {
			e, err := v.convert(obj.Get(strconv.Itoa(i)), depth+1, maxArray, path)
			if err != nil {
				return nil, err
			}
			if e != dropped {
				out[i] = e
			}
		}
		return out, nil
	case "Date":
		if t, ok := obj.Export().(time.Time); ok {
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	case "Promise":
		return dropped, nil
	}
	keys := obj.Keys()
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		e, err := v.convert(obj.Get(k), depth+1, maxArray, path)
		if err != nil {
			return nil, err
		}
		if e != dropped {
			out[k] = e
		}
	}
	return out, nil
}

func (v *vm) isRestClient(obj *goja.Object) bool {
	proto := v.restClient.Get("prototype")
	for p := obj.Prototype(); p != nil; p = p.Prototype() {
		if p.SameAs(proto) {
			return true
		}
	}
	return false
}
