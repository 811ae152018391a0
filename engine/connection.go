package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/connspec/connspec/internal/nesting"
	"github.com/connspec/connspec/spec"
)

// Account is the end user (or tenant) a connection belongs to. Auth
// resolvers use it to look up credentials the embedding application owns.
type Account struct {
	ID       string
	Metadata map[string]any
}

// Connection is one user's connection to a connector: which connector and
// auth option, the developer's connector parameters, what the user typed,
// and the credentials obtained so far.
type Connection struct {
	// ID identifies the connection to the embedder (for the credentials hook).
	ID string
	// Connector is the connector key.
	Connector string
	// Option is the auth option key; "" for the base auth block (or the
	// only option).
	Option string
	// ConnectorParameters are set once per connector by the developer:
	// clientId, clientSecret, scopes, ...
	ConnectorParameters map[string]any
	// ConnectionParameters is the connection input, what the user typed
	// into the UI schema (API key, subdomain, ...).
	ConnectionParameters map[string]any
	// Credentials are the stored credentials, or nil to obtain them from
	// the connection input.
	Credentials map[string]any
	// Account is the user the connection is for.
	Account *Account
	// Base is, for a proxy connector, the connection it rides on (of the
	// connector or integration its proxyKey names). Without it, a connection
	// of that connector for the same account is used, which suits bases
	// whose credentials come from a resolver or are minted.
	Base *Connection
}

// inputSchemas are the schemas connection input is checked against: the
// auth option's input schema and UI schema, falling back to the
// connector's.
func inputSchemas(c *Connector, a *Auth) []*spec.JSONSchema {
	return specInputSchemas(c.Spec, a.Spec)
}

// withSchemaDefaults fills the schemas' defaults into the connector
// parameters and the connection input of conn.
func withSchemaDefaults(c *Connector, a *Auth, conn Connection) Connection {
	conn.ConnectorParameters = withDefaults(conn.ConnectorParameters, c.Spec.ParametersSchema, a.Spec.ParametersSchema)
	conn.ConnectionParameters = withDefaults(conn.ConnectionParameters, inputSchemas(c, a)...)
	return conn
}

// validateInput checks the connection input against the auth option's UI
// schema and input schema (falling back to the connector's).
func validateInput(c *Connector, a *Auth, input map[string]any) error {
	if err := inputDepth(input); err != nil {
		return err
	}
	value := jsonValue(input)
	for _, s := range inputSchemas(c, a) {
		if s == nil || s.Compiled == nil {
			continue
		}
		err := s.Compiled.Validate(value)
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return inputError(ve)
		} else if err != nil {
			return &InputError{Message: err.Error()}
		}
	}
	return nil
}

// inputDepth refuses input nested too deeply to walk safely, naming the
// field that is.
func inputDepth(input map[string]any) error {
	err := nesting.Check(input)
	if err == nil {
		return nil
	}
	for k, v := range input {
		if nesting.Check(map[string]any{k: v}) != nil {
			return &InputError{Field: k, Message: "is " + err.Error()}
		}
	}
	return &InputError{Message: err.Error()}
}

// inputError describes the first leaf failure without repeating the value,
// which may be a secret.
func inputError(ve *jsonschema.ValidationError) *InputError {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	field := strings.Join(ve.InstanceLocation, ".")
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		missing := k.Missing[0]
		if field != "" {
			missing = field + "." + missing
		}
		return &InputError{Field: missing, Message: "is required"}
	case *kind.Type:
		return &InputError{Field: field, Message: fmt.Sprintf("must be of type %s", strings.Join(k.Want, " or "))}
	case *kind.Pattern:
		return &InputError{Field: field, Message: fmt.Sprintf("does not have the expected form (pattern %s)", k.Want)}
	case *kind.Enum:
		return &InputError{Field: field, Message: fmt.Sprintf("must be one of %v", k.Want)}
	case *kind.MinLength, *kind.MaxLength, *kind.Minimum, *kind.Maximum, *kind.MinItems, *kind.MaxItems:
		return &InputError{Field: field, Message: ve.ErrorKind.LocalizedString(printer)}
	case *kind.Format:
		// Never the value, nor the validator's reason (which may quote it).
		return &InputError{Field: field, Message: fmt.Sprintf("is not a valid %s (format %s)", formatNoun(k.Want), k.Want)}
	case *kind.AdditionalProperties:
		return &InputError{Field: field, Message: fmt.Sprintf("unexpected field(s) %s", strings.Join(k.Properties, ", "))}
	}
	return &InputError{Field: field, Message: fmt.Sprintf("is not valid (%s)", strings.Join(ve.ErrorKind.KeywordPath(), "/"))}
}

// formatNoun names what a JSON Schema format expects, for messages.
func formatNoun(format string) string {
	switch format {
	case "hostname", "idn-hostname":
		return "host name"
	case "email", "idn-email":
		return "email address"
	case "uri", "iri":
		return "absolute URI"
	case "uri-reference", "iri-reference":
		return "URI reference"
	case "ipv4":
		return "IPv4 address"
	case "ipv6":
		return "IPv6 address"
	case "date-time":
		return "date and time (RFC 3339)"
	case "date":
		return "date (RFC 3339 full-date)"
	case "time":
		return "time (RFC 3339)"
	case "uuid":
		return "UUID"
	}
	return "value"
}

// jsonValue converts Go values to what the JSON Schema validator expects
// (float64 and int kinds are accepted; other maps and slices are copied).
func jsonValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = jsonValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonValue(x)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = x
		}
		return out
	case nil, string, bool, float64, float32, int, int64, int32, uint, uint64:
		return t
	}
	return fmt.Sprint(v)
}

// obtainCredentials returns the credentials a new client starts with: the
// stored ones, or ones made from the connection input.
//
// anonymous, when not nil, is a client made from makeApiClient without
// credentials, offered to a JavaScript getCredentialsFromConnectionParameters
// as apiClient (to exchange a login for a token, say). Without that
// method, the input is the credentials when inputIsCredentials; else they
// come from an authorization flow, not completed yet.
func (e *Engine) obtainCredentials(ctx context.Context, a *Auth, conn Connection, anonymous *Client, inputIsCredentials bool) (map[string]any, bool, error) {
	if m := a.Methods[spec.MethodGetCredentialsFromConnectionParameters]; m != nil {
		r := a.redactor(conn.ConnectionParameters, conn.ConnectorParameters)
		out, err := e.runMethod(ctx, m, map[string]any{
			"connectorParameters":  orEmpty(conn.ConnectorParameters),
			"connectionParameters": orEmpty(conn.ConnectionParameters),
			"connectionInput":      orEmpty(conn.ConnectionParameters),
		}, anonymous, r)
		if err != nil {
			return nil, false, err
		}
		creds, ok := out.(map[string]any)
		if !ok {
			return nil, false, methodError(m, fmt.Errorf("must return an object of credentials, not %s", describeValue(out)))
		}
		return creds, true, nil
	}
	if inputIsCredentials {
		return maps.Clone(orEmpty(conn.ConnectionParameters)), true, nil
	}
	return nil, false, fmt.Errorf("connection to %s has no credentials: complete the %s authorization first: %w", conn.Connector, a.Spec.Type, ErrAuthorizationRequired)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
