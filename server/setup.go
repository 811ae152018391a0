package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// A connector whose required connector parameters (an OAuth clientId, a
// consumer key) the developer has not configured cannot connect anybody:
// serve says so at start, and a connect session for it is refused naming
// the parameter, instead of an end user meeting "Could not start signing in".

// missingParameters lists the required connector parameters the auth block
// needs and params lacks (absent, null or ""), sorted. The connector-level
// schema's requirements are the developer's app registration, which only the
// sign-in flows (oauth2, oauth1) use: a form option such as an API key works
// without them. A block's own parametersSchema always applies.
func missingParameters(c *spec.Connector, a *spec.Auth, params map[string]any) []string {
	var need []string
	if engine.HasAuthorizationFlow(a) {
		need = append(need, requiredNames(c.ParametersSchema)...)
	}
	need = append(need, requiredNames(a.ParametersSchema)...)
	var out []string
	for _, name := range need {
		if v, ok := params[name]; (!ok || v == nil || v == "") && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// requiredNames is a schema's top-level "required" list.
func requiredNames(sch *spec.JSONSchema) []string {
	if sch == nil {
		return nil
	}
	req, _ := sch.Value["required"].([]any)
	var out []string
	for _, r := range req {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// authBlocks are the ways a connect session with option opens: that option,
// or else the base block when it is usable and every option besides.
func authBlocks(c *spec.Connector, option string) []*spec.Auth {
	if c.Auth == nil {
		return nil
	}
	if option != "" {
		if a := c.Auth.Options[option]; a != nil {
			return []*spec.Auth{a}
		}
		return nil
	}
	var out []*spec.Auth
	if baseUsable(c.Auth) {
		out = append(out, c.Auth)
	}
	for _, k := range c.Auth.OptionKeys {
		out = append(out, c.Auth.Options[k])
	}
	return out
}

// unconfiguredSession returns why a connect session for connector c with
// option cannot work ("" when it can): every way it offers lacks a required
// connector parameter. The names are parameter names, never values.
func (s *Server) unconfiguredSession(c *engine.Connector, option string) string {
	params := s.cfg.ConnectorParameters[c.Spec.Key]
	var first []string
	for _, a := range authBlocks(c.Spec, option) {
		missing := missingParameters(c.Spec, a, params)
		if len(missing) == 0 {
			return ""
		}
		if first == nil {
			first = missing
		}
	}
	return notConfigured(c.Spec.Key, first)
}

// unconfigured returns why connecting with one auth block (option, or the
// base block for "") cannot work, or "".
func (s *Server) unconfigured(connector, option string) string {
	c, ok := s.cfg.Engine.Connector(connector)
	if !ok || c.Spec.Auth == nil {
		return ""
	}
	a := c.Spec.Auth
	if option != "" {
		if a = c.Spec.Auth.Options[option]; a == nil {
			return ""
		}
	}
	return notConfigured(connector, missingParameters(c.Spec, a, s.cfg.ConnectorParameters[connector]))
}

// notConfigured names the missing parameters of a connector ("" for none).
func notConfigured(connector string, missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("connector %s cannot connect anybody yet: the required connector parameter%s %s %s not configured (give %s in --params-file under %q)",
		connector, plural(len(missing)), strings.Join(missing, ", "), isAre(len(missing)), itThem(len(missing)), connector)
}

// warnUnconfigured logs, once at start, every connector and option whose
// required connector parameters are not configured.
func (s *Server) warnUnconfigured() {
	for _, c := range s.cfg.Engine.Connectors() {
		params := s.cfg.ConnectorParameters[c.Spec.Key]
		for _, a := range authBlocks(c.Spec, "") {
			missing := missingParameters(c.Spec, a, params)
			if len(missing) == 0 {
				continue
			}
			attrs := []any{"connector", c.Spec.Key, "missing", strings.Join(missing, ", ")}
			if a.Key != "" {
				attrs = append(attrs, "option", a.Key)
			}
			s.log.Warn("required connector parameters are not configured: connect sessions that need them are refused (set them in --params-file)", attrs...)
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
