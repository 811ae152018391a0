package redact

import "strings"

// SecretKeyword is the connspec schema keyword that marks a property of a
// UI or input schema secret (true) or shown (false), whatever its name says.
const SecretKeyword = "x-connspec-secret"

// secretWords are the pieces of a name that say it holds a secret: apiKey,
// access_token, clientSecret, password, X-Signature, sessionId, Cookie, ...
// A false alarm (an "author" field) only hides a value; a miss leaks one.
var secretWords = []string{"auth", "key", "token", "secret", "sign", "pass", "pwd", "session", "cookie", "credential", "private", "bearer", "jwt"}

// SecretName reports whether a field, header or parameter name says it
// holds a secret (case-insensitive: any of auth, key, token, secret, sign,
// pass, pwd, session, cookie, credential, private, bearer, jwt).
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// SecretField reports whether the property name of a schema, described by
// prop, holds a secret: x-connspec-secret decides when present; otherwise
// format: password, writeOnly: true or a secret-looking name make it one.
func SecretField(name string, prop map[string]any) bool {
	if v, ok := prop[SecretKeyword].(bool); ok {
		return v
	}
	if prop[SecretKeyword] != nil {
		return true // not a boolean (spec validation refuses it): keep it hidden
	}
	return prop["format"] == "password" || prop["writeOnly"] == true || SecretName(name)
}
