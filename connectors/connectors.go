// Package connectors embeds the bundled connector library: one folder per
// connector, in the directory layout, named by its key.
package connectors

//go:generate sh -c "go run ../cmd/connspec list --format markdown > ../docs/connectors.md"

import (
	"embed"
	"io/fs"
	"path"
)

//go:embed */spec.yml */auth
var files embed.FS

// FS returns the bundled connectors; each is the folder named by its key.
func FS() fs.FS { return files }

// Has reports whether a connector with key is bundled.
func Has(key string) bool {
	_, err := fs.Stat(files, path.Join(key, "spec.yml"))
	return err == nil && fs.ValidPath(key)
}
