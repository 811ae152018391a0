// Package engine turns loaded connector specs into compiled connectors: every
// mapping, formula, expression and JavaScript method is compiled once and
// checked against the variables that method receives. Later stages (clients,
// refresh, resolvers) run what is compiled here.
package engine
