package nesting

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = map[string]any{"a": []any{v}}
	}
	return v
}

// CheckJSON and Check count levels the same way, and both stop at Max.
func TestLimitIsTheSameForTextAndValues(t *testing.T) {
	for _, depth := range []int{1, Max - 1, Max, Max + 1, 10_000, 100_000, 1_000_000} {
		text := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		errText := CheckJSON([]byte(text))
		var v any = []any{}
		for range depth - 1 {
			v = []any{v}
		}
		errValue := Check(v)
		wantErr := depth > Max
		var ne *Error
		if (errText != nil) != wantErr || (errValue != nil) != wantErr {
			t.Errorf("depth %d: CheckJSON %v, Check %v", depth, errText, errValue)
		}
		if wantErr && (!errors.As(errText, &ne) || !errors.As(errValue, &ne) || !strings.Contains(errText.Error(), "more than 512 levels)")) {
			t.Errorf("depth %d: %v / %v", depth, errText, errValue)
		}
	}
}

// Brackets inside strings, escaped quotes included, are not nesting.
func TestCheckJSONSkipsStrings(t *testing.T) {
	deepInString := `{"a":"` + strings.Repeat(`[{\"`, 2*Max) + `"}`
	if err := CheckJSON([]byte(deepInString)); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
	var v any
	if err := json.Unmarshal([]byte(deepInString), &v); err != nil {
		t.Fatalf("the sample is not JSON: %v", err)
	}
	if err := CheckJSON([]byte(`{"a":"\\"}` + strings.Repeat("[", Max+1))); err == nil {
		t.Error("an escaped backslash before the closing quote ends the string")
	}
}

// A value that contains itself, or shares one part many times over, ends
// in an error instead of a walk without end.
func TestCheckStopsOnCyclesAndSharing(t *testing.T) {
	self := map[string]any{}
	self["self"] = self
	if err := Check(self); err == nil {
		t.Error("a map containing itself passed")
	}
	shared := any("leaf")
	for range 40 {
		shared = []any{shared, shared}
	}
	var ne *Error
	if err := Check(shared); !errors.As(err, &ne) || !ne.Values {
		t.Errorf("2^40 shared values: %v", err)
	}
	if err := Check(nested(Max / 2)); err != nil {
		t.Errorf("%d levels of maps in lists: %v", Max, err)
	}
	if err := Check(nested(Max/2 + 1)); err == nil {
		t.Errorf("%d levels of maps in lists passed", Max+2)
	}
}
