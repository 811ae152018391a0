// Package conformance runs the documented-example cases in
// testdata/conformance against the engine and a loopback provider.
//
// Each case is a folder holding case.yml: the page and section of the
// integration.app or Membrane documentation it follows, the connector's
// files (inline, as the page shows them), the provider's endpoints with
// what each must receive and what it answers, and the steps a user takes
// (load, authorize, callback, connect, test, request) with the documented
// outcome of each. Every request the engine sends goes to one loopback
// server, whatever host the connector names, so the documentation's URLs
// stay as written. A request no endpoint expects fails the case, and so
// does an endpoint that is never called.
//
// The package has no code of its own beyond the runner in its tests; see
// testdata/conformance/README.md for the case format.
package conformance
