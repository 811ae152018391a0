// Package mapvalue reads typed settings out of the plain maps that connector
// methods return (getOAuthConfig for OAuth 1.0a and 2.0): strings from any
// scalar, string maps, booleans, scope lists, seconds. Errors name the key
// and never quote a value that could be secret.
package mapvalue

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Reader reads values for one protocol; its text prefixes every error
// ("oauth2: tokenUri must be ...").
type Reader string

func (r Reader) errorf(format string, args ...any) error {
	return fmt.Errorf(string(r)+": "+format, args...)
}

// OneOf accepts "" or one of allowed.
func (r Reader) OneOf(key, val string, allowed ...string) error {
	if val == "" {
		return nil
	}
	for _, a := range allowed {
		if val == a {
			return nil
		}
	}
	// The value is not quoted: it may come from a connector parameter that
	// holds a secret (a misplaced one, typically).
	return r.errorf("%s must be one of %s", key, strings.Join(allowed, ", "))
}

// URL accepts absolute http(s) URLs. The value is not quoted in the
// error: URLs sometimes carry keys.
func (r Reader) URL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return r.errorf("%s must be an absolute http or https URL", key)
	}
	return nil
}

// String stringifies a scalar; nil is "".
func (r Reader) String(key string, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", r.errorf("%s is not a finite number", key)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return r.String(key, float64(v))
	case int:
		return strconv.Itoa(v), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case json.Number:
		return v.String(), nil
	default:
		return "", r.errorf("%s must be a string, number or boolean, not %s", key, Kind(v))
	}
}

// StringMap reads an object of scalars; undefined values are dropped.
func (r Reader) StringMap(key string, v any) (map[string]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]string:
		if len(v) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out, nil
	case map[string]any:
		if len(v) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(v))
		for k, e := range v {
			if e == nil {
				continue // undefined is dropped
			}
			s, err := r.String(key+"."+k, e)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	default:
		return nil, r.errorf("%s must be an object, not %s", key, Kind(v))
	}
}

// Bool reads a boolean or "true"/"false"; nil is false.
func (r Reader) Bool(key string, v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		if v == "" {
			return false, nil
		}
		if b, err := strconv.ParseBool(v); err == nil {
			return b, nil
		}
	}
	return false, r.errorf("%s must be a boolean", key)
}

// Scopes reads a list of strings or one string split on sep.
func (r Reader) Scopes(v any, sep string) ([]string, error) {
	var parts []string
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		parts = strings.Split(v, sep)
	case []string:
		parts = v
	case []any:
		for i, e := range v {
			if e == nil {
				continue
			}
			s, err := r.String(fmt.Sprintf("scopes[%d]", i), e)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
	default:
		return nil, r.errorf("scopes must be an array of strings or a string, not %s", Kind(v))
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// Seconds reads a non-negative number of seconds, a number or numeric string.
func (r Reader) Seconds(key string, v any) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	s, err := r.String(key, v)
	if _, isBool := v.(bool); err != nil || isBool {
		return 0, r.errorf("%s must be a number of seconds", key)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, r.errorf("%s must be a non-negative number of seconds", key)
	}
	return Duration(f), nil
}

// MaxDuration caps durations read from providers, keeping time arithmetic
// far from overflow.
const MaxDuration = 100 * 365 * 24 * time.Hour

// Duration converts seconds to a duration, capped at MaxDuration.
func Duration(seconds float64) time.Duration {
	if seconds >= MaxDuration.Seconds() {
		return MaxDuration
	}
	return time.Duration(seconds * float64(time.Second))
}

// Kind names the type of v for messages.
func Kind(v any) string {
	switch v.(type) {
	case []any, []string:
		return "an array"
	case map[string]any, map[string]string:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
