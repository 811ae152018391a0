package spec

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/connspec/connspec/internal/redact"
	"github.com/connspec/connspec/internal/suggest"
	"github.com/connspec/connspec/schemas"
)

var (
	formatSchemaOnce sync.Once
	formatSchema     *jsonschema.Schema
	formatSchemaRaw  map[string]any
	formatSchemaErr  error
	printer          = message.NewPrinter(language.English)
)

// connectorSchema compiles the embedded connector JSON Schema once.
func connectorSchema() (*jsonschema.Schema, map[string]any, error) {
	formatSchemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.Connector))
		if err != nil {
			formatSchemaErr = fmt.Errorf("embedded connector schema: %w", err)
			return
		}
		formatSchemaRaw, _ = doc.(map[string]any)
		c := jsonschema.NewCompiler()
		c.UseLoader(noLoader{})
		if err := c.AddResource(schemas.ConnectorID, doc); err != nil {
			formatSchemaErr = err
			return
		}
		formatSchema, formatSchemaErr = c.Compile(schemas.ConnectorID)
	})
	return formatSchema, formatSchemaRaw, formatSchemaErr
}

// noLoader refuses every external $ref: a connector must not make the
// validator read local files or the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external $ref %q is not allowed; keep schemas self-contained", url)
}

// checkFormat validates the document against the connector schema and turns
// each failure into a diagnostic at the offending value.
func checkFormat(doc *document) Diagnostics {
	sch, raw, err := connectorSchema()
	if err != nil {
		return Diagnostics{doc.at("").Errorf("", "internal error: %v", err)}
	}
	verr := sch.Validate(doc.value)
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return Diagnostics{doc.at("").Errorf("", "%v", verr)}
	}
	var diags Diagnostics
	for _, leaf := range leaves(ve) {
		diags = append(diags, formatDiagnostic(doc, raw, leaf)...)
	}
	return diags
}

// leaves flattens a validation error tree. anyOf/oneOf failures are kept
// whole: their branches' messages would only confuse.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		return []*jsonschema.ValidationError{e}
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func pointerOf(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// describe names the place a pointer refers to for messages: "auth.type".
func describe(ptr string) string {
	if ptr == "" {
		return "the connector"
	}
	return strings.ReplaceAll(strings.TrimPrefix(ptr, "/"), "/", ".")
}

func formatDiagnostic(doc *document, raw map[string]any, e *jsonschema.ValidationError) Diagnostics {
	ptr := pointerOf(e.InstanceLocation)
	where := describe(ptr)
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		got := typeName(lookupPointer(doc.value, ptr))
		return Diagnostics{doc.at(ptr).Errorf(ptr, "%s must be %s, not %s", where, wantTypes(k.Want), got)}
	case *kind.Enum:
		got := fmt.Sprint(k.Got)
		var want []string
		for _, w := range k.Want {
			// operation-mapping is in the format so that it is refused by
			// name (build.go), never offered as a choice.
			if w != ImplOperationMapping {
				want = append(want, fmt.Sprint(w))
			}
		}
		if ptr == "/auth/type" || strings.HasSuffix(ptr, "/type") && strings.HasPrefix(ptr, "/auth/options/") {
			if name, ok := k.Got.(string); ok {
				if _, registered := LookupAuthType(name); registered {
					// Registered by an embedder (RegisterAuthType with its
					// engine kind): the published schema lists the
					// built-in types only, a test keeps it in step.
					return nil
				}
			}
			return Diagnostics{doc.at(ptr).Errorf(ptr, "unknown auth type %q%s (known: %s)", got, suggest.Hint(got, want), strings.Join(want, ", "))}
		}
		return Diagnostics{doc.at(ptr).Errorf(ptr, "%s: unknown value %q%s (allowed: %s)", where, got, suggest.Hint(got, want), strings.Join(want, ", "))}
	case *kind.AdditionalProperties:
		var diags Diagnostics
		cands := schemaProperties(raw, e.SchemaURL)
		for _, p := range k.Properties {
			diags = append(diags, unknownKey(doc, ptr, p, cands))
		}
		return diags
	case *kind.Required:
		var diags Diagnostics
		for _, m := range k.Missing {
			diags = append(diags, doc.at(ptr).Errorf(ptr, "%s is missing required key %q", where, m))
		}
		return diags
	case *kind.MinLength:
		return Diagnostics{doc.at(ptr).Errorf(ptr, "%s must not be empty", where)}
	case *kind.Pattern:
		return Diagnostics{doc.at(ptr).Errorf(ptr, "%s %q does not match the pattern %s", where, k.Got, k.Want)}
	case *kind.AnyOf, *kind.OneOf:
		return Diagnostics{doc.at(ptr).Errorf(ptr, "%s must be %s, not %s", where, anyOfTypes(raw, e.SchemaURL), typeName(lookupPointer(doc.value, ptr)))}
	}
	return Diagnostics{doc.at(ptr).Errorf(ptr, "%s: %s", where, e.ErrorKind.LocalizedString(printer))}
}

// unknownKey reports a key the format does not know. At the top level it is
// a warning, so that keys from the rest of integration.app's format never
// stop a connector from loading.
func unknownKey(doc *document, parent, name string, candidates []string) Diagnostic {
	ptr := parent + "/" + escapePointer(name)
	hint := suggest.Hint(name, candidates)
	if parent == "" {
		return doc.keyAt(ptr).Warnf(ptr, "unknown top-level key %q is ignored%s", name, hint)
	}
	return doc.keyAt(ptr).Errorf(ptr, "unknown key %q in %s%s", name, describe(parent), hint)
}

func wantTypes(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = aOrAn(jsonTypeWord(w))
	}
	return strings.Join(names, " or ")
}

func jsonTypeWord(t string) string {
	switch t {
	case "object":
		return "mapping"
	case "array":
		return "list"
	}
	return t
}

func aOrAn(w string) string {
	if w == "" {
		return w
	}
	if strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

// schemaAt resolves a schema URL of the embedded schema to its raw JSON.
func schemaAt(raw map[string]any, url string) map[string]any {
	_, frag, _ := strings.Cut(url, "#")
	v, _ := lookupPointer(raw, frag).(map[string]any)
	return v
}

// schemaProperties lists the property names a schema location allows,
// following allOf and $ref, for did-you-mean hints.
func schemaProperties(raw map[string]any, url string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(s map[string]any, depth int)
	walk = func(s map[string]any, depth int) {
		if s == nil || depth > 8 {
			return
		}
		if props, ok := s["properties"].(map[string]any); ok {
			for p := range props {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
		if ref, ok := s["$ref"].(string); ok {
			walk(schemaAt(raw, ref), depth+1)
		}
		if all, ok := s["allOf"].([]any); ok {
			for _, a := range all {
				m, _ := a.(map[string]any)
				walk(m, depth+1)
			}
		}
	}
	walk(schemaAt(raw, url), 0)
	slices.Sort(out)
	return out
}

func anyOfTypes(raw map[string]any, url string) string {
	s := schemaAt(raw, url)
	var opts []any
	if a, ok := s["anyOf"].([]any); ok {
		opts = a
	} else if o, ok := s["oneOf"].([]any); ok {
		opts = o
	}
	var names []string
	for _, o := range opts {
		m, _ := o.(map[string]any)
		if t, ok := m["type"].(string); ok {
			w := jsonTypeWord(t)
			if t == "object" {
				w = "formula (mapping)"
			}
			names = append(names, aOrAn(w))
		}
	}
	if len(names) == 0 {
		return "one of the allowed forms"
	}
	return strings.Join(names, " or ")
}

// checkJSONSchema compiles a schema embedded in the connector (parameters,
// UI, credentials) so that an invalid one is reported where it is written.
// It returns the compiled schema for later use, or nil.
func checkJSONSchema(doc *document, ptr string) (*jsonschema.Schema, Diagnostics) {
	value := lookupPointer(doc.value, ptr)
	if _, ok := value.(map[string]any); !ok {
		return nil, nil // the format check reports wrong types
	}
	sch, err := compileSchemaValue(value)
	if err == nil {
		return sch, secretKeywordProblems(doc, ptr, value)
	}
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		var diags Diagnostics
		for _, leaf := range leaves(ve) {
			at := ptr + pointerOf(leaf.InstanceLocation)
			msg := leaf.ErrorKind.LocalizedString(printer)
			if _, ok := leaf.ErrorKind.(*kind.AnyOf); ok {
				msg = "not an allowed value for this keyword"
				if len(leaf.InstanceLocation) > 0 && leaf.InstanceLocation[len(leaf.InstanceLocation)-1] == "type" {
					msg = fmt.Sprintf("%q is not a JSON Schema type (string, number, integer, boolean, object, array, null)", fmt.Sprint(lookupPointer(doc.value, at)))
				}
			}
			diags = append(diags, doc.at(at).Errorf(at, "%s is not a valid JSON Schema: %s: %s", describe(ptr), describe(at), msg))
		}
		return nil, diags
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, embeddedSchemaURL, describe(ptr))
	return nil, Diagnostics{doc.at(ptr).Errorf(ptr, "%s is not a valid JSON Schema: %s", describe(ptr), msg)}
}

const embeddedSchemaURL = "connspec:///embedded.json"

// compileSchemaValue compiles a JSON Schema value (draft 2020-12 unless it
// names another draft in $schema) with external references refused and
// the known format keywords asserted.
func compileSchemaValue(value any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	// A connector that writes format: hostname (uri, email, ...) means it:
	// draft 2020-12 only annotates formats unless assertion is switched on.
	c.AssertFormat()
	if err := c.AddResource(embeddedSchemaURL, value); err != nil {
		return nil, err
	}
	return c.Compile(embeddedSchemaURL)
}

// secretKeywordProblems refuses an x-connspec-secret that is not a boolean:
// a misspelt "yes" must not leave a field unmarked (redaction would show it).
func secretKeywordProblems(doc *document, ptr string, v any) Diagnostics {
	var diags Diagnostics
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			at := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			if _, ok := x.(bool); k == redact.SecretKeyword && !ok {
				diags = append(diags, doc.at(at).Errorf(at, "%s: %s must be true (a secret, always redacted) or false (shown in errors and logs), not %s", describe(ptr), redact.SecretKeyword, fmt.Sprint(x)))
				continue
			}
			diags = append(diags, secretKeywordProblems(doc, at, x)...)
		}
	case []any:
		for i, x := range t {
			diags = append(diags, secretKeywordProblems(doc, fmt.Sprintf("%s/%d", ptr, i), x)...)
		}
	}
	return diags
}
