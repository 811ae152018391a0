package jsrt

import "github.com/connspec/connspec/internal/redact"

// redactor hides secrets in what leaves the sandbox (console output,
// exceptions), with the engine's redactor: every form an API or a method
// may give a secret (escaped, encoded, base64, cut short).
type redactor struct{ r *redact.Redactor }

// newRedactor returns nil when no secret is long enough to redact.
func newRedactor(secrets []string) *redactor {
	r := redact.New(secrets...)
	if len(r.Secrets()) == 0 {
		return nil
	}
	return &redactor{r}
}

// String returns s with the secrets replaced. A nil redactor returns s.
func (rd *redactor) String(s string) string {
	if rd == nil {
		return s
	}
	return rd.r.String(s)
}

// value returns x (a converted JavaScript value) with the secrets replaced
// in every string, map key included. It modifies maps and slices in place.
func (rd *redactor) value(x any) any {
	if rd == nil {
		return x
	}
	switch t := x.(type) {
	case string:
		return rd.String(t)
	case []any:
		for i, e := range t {
			t[i] = rd.value(e)
		}
	case map[string]any:
		var renamed []string
		for k, e := range t {
			t[k] = rd.value(e)
			if rd.String(k) != k {
				renamed = append(renamed, k)
			}
		}
		for _, k := range renamed {
			t[rd.String(k)] = t[k]
			delete(t, k)
		}
	}
	return x
}

// error redacts what an *Error tells about the method's data.
func (rd *redactor) error(e *Error) {
	if rd == nil {
		return
	}
	e.Name = rd.String(e.Name)
	e.Message = rd.String(e.Message)
	e.Key = rd.String(e.Key)
	e.Data = rd.value(e.Data)
}
