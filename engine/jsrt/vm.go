package jsrt

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// vm is one goja runtime with the sandbox installed. It is used by one
// goroutine at a time.
type vm struct {
	r      *goja.Runtime
	frozen bool

	require    goja.Value
	sdk        *goja.Object
	restClient *goja.Object
	axios      *goja.Object // the axios module
	errorCtor  *goja.Object
	rangeError goja.Value
	sdkErrors  map[string]*goja.Object              // SDK error classes by name
	stdErrors  map[string]*goja.Object              // intrinsic error constructors by name
	stringify  goja.Callable                        // the bounded JSON.stringify
	resolve    func(goja.Value) (goja.Value, error) // the intrinsic Promise.resolve
	lim        *goja.Object
	globals    []globalProp // pristine global properties (frozen vms)

	modules map[*Program]goja.Callable // module wrappers (frozen vms)
	regexps map[string]*backtracking   // patterns that need regexp2, by flags and source

	// searchParams is the URLSearchParams class, searchParamsString its
	// toString, so that results can turn such objects into strings.
	searchParams       *goja.Object
	searchParamsString func(goja.Value) (goja.Value, error)

	// Per call.
	guardErrs map[*goja.Object]struct{}
	hostErrs  map[*goja.Object]error // HostFunc rejections and their Go errors
	logger    *slog.Logger
	fetch     HostFunc // Options.Fetch
	redact    *redactor
	ctx       context.Context
	maxArray  int
	maxString int
	filename  string
	prog      *Program
}

type globalProp struct {
	name                            string
	value                           goja.Value
	writable, enumerable, configure bool
}

const maxCachedModules = 64

func newVM(frozen bool) (v *vm, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("jsrt: setting up runtime: %v", p)
		}
	}()
	r := goja.New()
	v = &vm{r: r, frozen: frozen}
	host := r.NewObject()
	must(host.Set("fail", v.fail))
	must(host.Set("log", v.log))
	must(host.Set("btoa", v.btoa))
	must(host.Set("atob", v.atob))
	must(host.Set("formEncode", v.formEncode))
	must(host.Set("formDecode", formDecode))
	must(host.Set("stringify", v.jsonStringify))
	must(host.Set("jsonScan", v.jsonScan))
	must(host.Set("regexpExec", v.regexpExec))
	must(host.Set("regexpBacktracks", v.regexpBacktracks))
	must(host.Set("fetch", v.fetchRequest))
	v.lim = r.NewObject()

	fn, err := r.RunProgram(preludeProgram)
	if err != nil {
		return nil, err
	}
	call, _ := goja.AssertFunction(fn)
	mods, err := call(goja.Undefined(), host, v.lim)
	if err != nil {
		return nil, err
	}
	v.sdk = mods.ToObject(r).Get("sdk").ToObject(r)
	v.axios = mods.ToObject(r).Get("axios").ToObject(r)
	v.restClient = v.sdk.Get("RestApiClient").ToObject(r)
	v.errorCtor = r.Get("Error").ToObject(r)
	v.rangeError = r.Get("RangeError")
	v.sdkErrors = make(map[string]*goja.Object, len(sdkErrorClasses))
	for _, name := range sdkErrorClasses {
		v.sdkErrors[name] = v.sdk.Get(name).ToObject(r)
	}
	v.stdErrors = make(map[string]*goja.Object, len(standardErrorClasses))
	for _, name := range standardErrorClasses {
		v.stdErrors[name] = r.Get(name).ToObject(r)
	}
	v.stringify, _ = goja.AssertFunction(r.Get("JSON").ToObject(r).Get("stringify")) // the prelude's bounded one
	v.searchParams = r.Get("URLSearchParams").ToObject(r)
	toString, _ := goja.AssertFunction(v.searchParams.Get("prototype").ToObject(r).Get("toString"))
	v.searchParamsString = func(obj goja.Value) (goja.Value, error) { return toString(obj) }
	promise := r.Get("Promise")
	resolve, _ := goja.AssertFunction(promise.ToObject(r).Get("resolve"))
	v.resolve = func(val goja.Value) (goja.Value, error) { return resolve(promise, val) }
	v.require = r.ToValue(v.requireModule)

	if frozen {
		if err := v.freeze(); err != nil {
			return nil, err
		}
		v.modules = make(map[*Program]goja.Callable)
	}
	return v, nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// freeze deep-freezes every built-in and records the global object's
// properties, from which each call gets a new global object.
func (v *vm) freeze() error {
	r := v.r
	g := r.GlobalObject()
	var roots []any
	for _, name := range g.GetOwnPropertyNames() {
		roots = append(roots, g.Get(name))
	}
	for _, expr := range hiddenIntrinsics {
		if val, err := r.RunString(expr); err == nil {
			roots = append(roots, val)
		}
	}
	roots = append(roots, v.sdk, v.axios, v.require)
	fn, err := r.RunProgram(freezeProgram)
	if err != nil {
		return err
	}
	call, _ := goja.AssertFunction(fn)
	if _, err := call(goja.Undefined(), r.NewArray(roots...), r.NewArray(overridableNames...)); err != nil {
		return err
	}
	gopd, _ := goja.AssertFunction(r.Get("Object").ToObject(r).Get("getOwnPropertyDescriptor"))
	for _, name := range g.GetOwnPropertyNames() {
		if name == "globalThis" {
			continue
		}
		d, err := gopd(goja.Undefined(), g, r.ToValue(name))
		if err != nil {
			return err
		}
		do := d.ToObject(r)
		if do.Get("get") != nil || do.Get("set") != nil {
			return fmt.Errorf("jsrt: accessor global %q", name)
		}
		v.globals = append(v.globals, globalProp{
			name: name, value: do.Get("value"),
			writable: do.Get("writable").ToBoolean(), enumerable: do.Get("enumerable").ToBoolean(), configure: do.Get("configurable").ToBoolean(),
		})
	}
	return nil
}

func flag(b bool) goja.Flag {
	if b {
		return goja.FLAG_TRUE
	}
	return goja.FLAG_FALSE
}

// freshGlobal gives a frozen vm a new global object for the next call, so
// that globals one call sets are never seen by another.
func (v *vm) freshGlobal() {
	g := v.r.NewObject()
	for _, p := range v.globals {
		must(g.DefineDataProperty(p.name, p.value, flag(p.writable), flag(p.configure), flag(p.enumerable)))
	}
	must(g.DefineDataProperty("globalThis", g, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	v.r.SetGlobalObject(g)
}

func (v *vm) setLimits(o Options) {
	must(v.lim.Set("str", o.MaxStringLength))
	must(v.lim.Set("arr", o.MaxArrayLength))
	v.r.SetMaxCallStackSize(o.MaxCallStackSize)
	v.logger = o.Logger
	v.fetch = o.Fetch
	v.redact = newRedactor(o.Secrets)
	v.maxArray = o.MaxArrayLength
	v.maxString = o.MaxStringLength
	v.guardErrs = nil
	v.hostErrs = nil
}

// release drops what the last call left in v, so a pooled vm holds on to
// none of it.
func (v *vm) release() {
	v.guardErrs, v.hostErrs = nil, nil
	v.logger, v.redact, v.ctx, v.prog, v.fetch = nil, nil, nil, nil, nil
}

// requireModule is the module's require: the SDK or an error naming the
// import (Compile rejects literal imports; this catches computed ones).
func (v *vm) requireModule(call goja.FunctionCall) goja.Value {
	spec := call.Argument(0).String()
	if isSDKModule(spec) {
		return v.sdk
	}
	if spec == "axios" {
		return v.axios
	}
	panic(v.r.NewGoError(fmt.Errorf("import of %q is not allowed", spec)))
}

// checkArray fails when a built-in is about to make or walk more than
// MaxArrayLength elements.
func (v *vm) checkArray(n int64, what string) {
	if n > int64(v.maxArray) {
		v.fail(what, float64(n), int64(v.maxArray), "elements")
	}
}

// checkString fails when a built-in is about to make a string longer than
// MaxStringLength.
func (v *vm) checkString(n int64, what, unit string) {
	if n > int64(v.maxString) {
		v.fail(what, float64(n), int64(v.maxString), unit)
	}
}

// fail throws a RangeError for a guarded built-in and remembers it, so the
// resulting Error unwraps to ErrMemoryLimit. Every output bound of the
// sandbox, in the prelude and in Go, ends here.
func (v *vm) fail(what string, n float64, limit int64, unit string) goja.Value {
	obj, err := v.r.New(v.rangeError, v.r.ToValue(fmt.Sprintf("%s: %.0f %s exceed the limit of %d", what, n, unit, limit)))
	if err != nil {
		panic(err)
	}
	if v.guardErrs == nil {
		v.guardErrs = make(map[*goja.Object]struct{})
	}
	v.guardErrs[obj] = struct{}{}
	panic(obj)
}

func (v *vm) btoa(s string) string {
	v.checkString(int64(len(s)+2)/3*4, "btoa", "characters")
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			panic(v.r.NewGoError(fmt.Errorf("btoa: the string contains characters outside of the Latin1 range")))
		}
		b = append(b, byte(r))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (v *vm) atob(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\f', '\r':
			return -1
		}
		return r
	}, s)
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "="), "=")
	}
	v.checkString(int64(len(s))/4*3*2, "atob", "bytes")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(s)%4 == 1 {
		panic(v.r.NewGoError(fmt.Errorf("atob: the string to be decoded is not correctly encoded")))
	}
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out)
}

// formEncode bounds formEncode's output, up to 3 bytes for each input byte.
func (v *vm) formEncode(s string) string {
	v.checkString(int64(len(s))*3, "URLSearchParams", "bytes")
	return formEncode(s)
}

// pool holds frozen vms ready for reuse.
var pool = sync.Pool{}

func getVM(fresh bool) (*vm, error) {
	if fresh {
		return newVM(false)
	}
	if v, ok := pool.Get().(*vm); ok {
		return v, nil
	}
	return newVM(true)
}

// module instantiates p in v: a new module scope every time.
func (v *vm) module(p *Program) (*goja.Object, error) {
	wrapper := v.modules[p]
	if wrapper == nil {
		fn, err := v.r.RunProgram(p.prog)
		if err != nil {
			return nil, err
		}
		wrapper, _ = goja.AssertFunction(fn)
		if wrapper == nil {
			return nil, fmt.Errorf("jsrt: module wrapper is not a function")
		}
		if v.modules != nil {
			if len(v.modules) >= maxCachedModules {
				clear(v.modules)
			}
			v.modules[p] = wrapper
		}
	}
	exports := v.r.NewObject()
	module := v.r.NewObject()
	must(module.Set("exports", exports))
	if _, err := wrapper(goja.Undefined(), exports, v.require, module); err != nil {
		return nil, err
	}
	return module.Get("exports").ToObject(v.r), nil
}
