package spec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a diagnostic fails validation.
type Severity int

const (
	// SeverityError makes the connector unusable; `connspec validate` exits 1.
	SeverityError Severity = iota
	// SeverityWarning is worth fixing but does not change the exit code.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalJSON writes the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Diagnostic is one problem found in a connector, at a position in a file.
type Diagnostic struct {
	// File is the path of the file, as the connector was loaded (slash-separated).
	File string `json:"file"`
	// Line and Column are 1-based; 0 when the problem concerns the whole file.
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Severity Severity `json:"severity"`
	// Path is the JSON pointer of the value in the document, e.g. "/auth/type".
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String formats the diagnostic as FILE:LINE:COL: SEVERITY: MESSAGE.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, max(d.Column, 1))
	}
	fmt.Fprintf(&b, ": %s: %s", d.Severity, d.Message)
	return b.String()
}

// Diagnostics is a list of problems. It implements error so a loader can
// return every problem at once, like hcl.Diagnostics.
type Diagnostics []Diagnostic

// Error joins the diagnostics one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == SeverityError })
}

// Count returns the number of errors and warnings.
func (ds Diagnostics) Count() (errors, warnings int) {
	for _, d := range ds {
		if d.Severity == SeverityError {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

// Sort orders diagnostics by file, line, column and message, and drops exact
// duplicates, so output is stable.
func (ds Diagnostics) Sort() Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(ds)
}

// Pos is a position in a connector file.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String formats the position as FILE:LINE:COL.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Errorf returns an error diagnostic at p.
func (p Pos) Errorf(path, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: SeverityError, File: p.File, Line: p.Line, Column: p.Column, Path: path, Message: fmt.Sprintf(format, args...)}
}

// Warnf returns a warning diagnostic at p.
func (p Pos) Warnf(path, format string, args ...any) Diagnostic {
	d := p.Errorf(path, format, args...)
	d.Severity = SeverityWarning
	return d
}
