package jsrt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"
)

// Folder is where a method's relative imports are read from: the files of
// its connector. Imports never leave Root.
type Folder struct {
	// FS holds the connector's files; it is read through fs.FS only, so an
	// embedded connector and one on disk resolve the same way.
	FS fs.FS
	// Root is the connector folder in FS ("." for all of FS).
	Root string
}

// Bounds on what one method may bundle, entry file included.
const (
	// MaxImportFiles is how many files one method may bundle.
	MaxImportFiles = 64
	// MaxImportBytes is the total size of the files one method bundles:
	// together, no more than one connector file may hold (spec.MaxFileSize).
	MaxImportBytes = 10 << 20
)

// importExts are the endings tried, in order, for an import without one,
// and the only files an import may load (a key or an .env file never is).
var importExts = []string{".ts", ".js", ".mjs", ".cjs", ".mts", ".cts", ".json"}

// ImportExtensions returns the file endings a relative import may load, in
// the order they are tried for an import written without one.
func ImportExtensions() []string { return slices.Clone(importExts) }

// allowedBareModule reports whether spec is a bare specifier left to the
// runtime's require: the SDK and axios (checkImports and the runtime decide
// which of them exist).
func allowedBareModule(spec string) bool {
	return isSDKModule(spec) || slices.Contains(hostModules, spec)
}

// windowsDrive matches an absolute Windows path (C:/x, C:\x).
var windowsDrive = regexp.MustCompile(`^[A-Za-z]:[/\\]`)

// nsConnector is the esbuild namespace of connector files; its paths are
// paths in Folder.FS.
const nsConnector = "connector"

// bundler resolves and loads a method's files for esbuild. esbuild calls
// its callbacks from several goroutines.
type bundler struct {
	dir     Folder // FS is nil when the method has no folder
	entry   string
	source  []byte
	mu      sync.Mutex
	imports map[string][]string // importer -> files it imports
	files   int
	bytes   int
}

func newBundler(dir Folder, entry string, source []byte) *bundler {
	if dir.Root == "" {
		dir.Root = "."
	}
	dir.Root = path.Clean(dir.Root)
	return &bundler{dir: dir, entry: entry, source: source, imports: map[string][]string{}}
}

func (b *bundler) plugin() api.Plugin {
	return api.Plugin{Name: "connector", Setup: func(pb api.PluginBuild) {
		pb.OnResolve(api.OnResolveOptions{Filter: ".*"}, b.resolve)
		pb.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: nsConnector}, b.load)
	}}
}

func (b *bundler) resolve(a api.OnResolveArgs) (api.OnResolveResult, error) {
	if a.Kind == api.ResolveEntryPoint {
		return api.OnResolveResult{Path: b.entry, Namespace: nsConnector}, nil
	}
	spec := a.Path
	relative := spec == "." || spec == ".." || strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../")
	switch {
	case allowedBareModule(spec):
		return api.OnResolveResult{Path: spec, External: true}, nil
	case !relative && (strings.HasPrefix(spec, "/") || strings.HasPrefix(spec, `\`) || windowsDrive.MatchString(spec)):
		return api.OnResolveResult{}, fmt.Errorf("import of %q is not allowed: imports are relative to the importing file (./x or ../x) and stay in the connector folder", spec)
	case !relative:
		return api.OnResolveResult{}, fmt.Errorf("import of %q is not allowed: only files of the connector folder (./x, ../x) and %s are available", spec, strings.Join(append(slices.Clone(sdkModules), hostModules...), ", "))
	case b.dir.FS == nil:
		return api.OnResolveResult{}, fmt.Errorf("import of %q is not allowed: the method has no connector folder to import from", spec)
	}
	target := path.Join(path.Dir(a.Importer), spec)
	if !b.inside(target) {
		return api.OnResolveResult{}, fmt.Errorf("import of %q is not allowed: it leaves the connector folder", spec)
	}
	file, err := b.find(spec, target)
	if err != nil {
		return api.OnResolveResult{}, err
	}
	if cycle := b.addImport(a.Importer, file); cycle != nil {
		return api.OnResolveResult{}, fmt.Errorf("import of %q makes a cycle: %s", spec, strings.Join(cycle, " -> "))
	}
	return api.OnResolveResult{Path: file, Namespace: nsConnector}, nil
}

// inside reports whether p (cleaned, in FS) is in the connector folder.
func (b *bundler) inside(p string) bool {
	if b.dir.Root == "." {
		return p != ".." && !strings.HasPrefix(p, "../")
	}
	return p == b.dir.Root || strings.HasPrefix(p, b.dir.Root+"/")
}

// find returns the file an import of target means, trying the endings and
// index files as esbuild and Node do.
func (b *bundler) find(spec, target string) (string, error) {
	cands := []string{target}
	for _, ext := range importExts {
		cands = append(cands, target+ext)
	}
	// TypeScript writes imports of x.ts as ./x.js.
	if base, ok := strings.CutSuffix(target, ".js"); ok {
		cands = append(cands, base+".ts")
	}
	for _, ext := range importExts {
		cands = append(cands, path.Join(target, "index"+ext))
	}
	for _, c := range cands {
		real, err := b.realPath(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("import of %q: %v", spec, err)
		}
		info, err := fs.Stat(b.dir.FS, real)
		if err != nil || info.IsDir() {
			continue
		}
		if !hasImportExt(real) {
			return "", fmt.Errorf("import of %q is not allowed: %s is not a JavaScript, TypeScript or JSON file (%s)", spec, real, strings.Join(importExts, ", "))
		}
		return real, nil
	}
	return "", fmt.Errorf("cannot find %q: no file %s, %s{%s} or %s/index{%s} in the connector folder", spec, target, target, strings.Join(importExts, ","), target, strings.Join(importExts, ","))
}

func hasImportExt(p string) bool {
	for _, ext := range importExts {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

// maxLinks bounds the symbolic links followed while resolving one path.
const maxLinks = 16

// realPath follows the symbolic links in p (when the FS can read them)
// and refuses one that leads out of the connector folder.
func (b *bundler) realPath(p string) (string, error) {
	if _, ok := b.dir.FS.(fs.ReadLinkFS); !ok {
		_, err := fs.Stat(b.dir.FS, p)
		return p, err
	}
	links := 0
	parts := strings.Split(p, "/")
	cur := "."
	for i := 0; i < len(parts); i++ {
		next := path.Join(cur, parts[i])
		info, err := fs.Lstat(b.dir.FS, next)
		if err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: too many symbolic links", p)
		}
		dest, err := fs.ReadLink(b.dir.FS, next)
		if err != nil {
			return "", err
		}
		resolved := path.Join(cur, dest)
		if path.IsAbs(dest) || !b.inside(resolved) {
			return "", fmt.Errorf("%s is a symbolic link out of the connector folder", next)
		}
		// Continue from the link's target with the rest of the path.
		parts = append(strings.Split(resolved, "/"), parts[i+1:]...)
		cur, i = ".", -1
	}
	return cur, nil
}

// addImport records that from imports to and returns the cycle this
// closes (from, ..., from), or nil.
func (b *bundler) addImport(from, to string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.pathTo(to, from, map[string]bool{}); p != nil {
		return append([]string{from}, p...)
	}
	b.imports[from] = append(b.imports[from], to)
	return nil
}

// pathTo returns a chain of imports from a to b, both included, or nil.
func (b *bundler) pathTo(a, z string, seen map[string]bool) []string {
	if a == z {
		return []string{a}
	}
	if seen[a] {
		return nil
	}
	seen[a] = true
	for _, n := range b.imports[a] {
		if p := b.pathTo(n, z, seen); p != nil {
			return append([]string{a}, p...)
		}
	}
	return nil
}

func (b *bundler) load(a api.OnLoadArgs) (api.OnLoadResult, error) {
	src := b.source
	if a.Path != b.entry {
		var err error
		if src, err = b.read(a.Path); err != nil {
			return api.OnLoadResult{}, err
		}
	} else if err := b.count(len(src)); err != nil {
		return api.OnLoadResult{}, err
	}
	contents := string(src)
	return api.OnLoadResult{Contents: &contents, Loader: loaderFor(a.Path)}, nil
}

// count adds a file of n bytes to the bundle's bounds.
func (b *bundler) count(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files++
	b.bytes += n
	if b.files > MaxImportFiles {
		return fmt.Errorf("the method imports more than %d files", MaxImportFiles)
	}
	if b.bytes > MaxImportBytes {
		return fmt.Errorf("the method's files are more than %d MiB together", MaxImportBytes>>20)
	}
	return nil
}

// read reads an imported file, never more than the bytes left.
func (b *bundler) read(name string) ([]byte, error) {
	f, err := b.dir.FS.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s", name)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s", name)
	}
	if err := b.count(len(data)); err != nil {
		return nil, err
	}
	return data, nil
}

func loaderFor(name string) api.Loader {
	switch path.Ext(name) {
	case ".ts", ".mts", ".cts":
		return api.LoaderTS
	case ".json":
		return api.LoaderJSON
	}
	return api.LoaderJS
}
