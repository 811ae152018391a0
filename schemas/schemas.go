// Package schemas embeds connector.schema.json, the single source of truth
// for the connector YAML format. Editors use it for completion and hovers;
// package spec validates every connector against it.
package schemas

import _ "embed"

// Connector is the JSON Schema (draft 2020-12) of a connector spec.
//
//go:embed connector.schema.json
var Connector []byte

// ConnectorID is the $id of Connector.
const ConnectorID = "https://github.com/connspec/connspec/schemas/connector.schema.json"
