package jsrt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

func TestDbg(t *testing.T) {
	v, err := newVM(false)
	fmt.Println(err)
	r := v.r
	time.AfterFunc(3*time.Second, func() { r.Interrupt("x") })
	src := strings.Replace(freezeSource, "const d = gopd(o, k);", "const d = gopd(o, k); if (++cnt > 200000) { throw new Error('loop on ' + String(k) + ' ' + typeof o + ' ' + Object.prototype.toString.call(o) + ' ' + (typeof o === 'function' ? o.name : '') + ' ' + ownKeys(o).length) }", 1)
	src = strings.Replace(src, "const names", "let cnt = 0; const names", 1)
	fn, err := r.RunString(src)
	fmt.Println(err)
	call, _ := goja.AssertFunction(fn)
	g := r.GlobalObject()
	var roots []any
	for _, name := range g.GetOwnPropertyNames() {
		roots = append(roots, g.Get(name))
	}
	_, err = call(goja.Undefined(), r.NewArray(roots...), r.NewArray(overridableNames...))
	fmt.Println(err)
}
