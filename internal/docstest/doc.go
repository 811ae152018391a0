// Package docstest checks that the Go code in README.md and docs/*.md
// builds and vets against this module; it has only tests.
package docstest
