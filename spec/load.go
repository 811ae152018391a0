package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Spec file names of the directory layout, in order of preference.
var specFileNames = []string{"spec.yml", "spec.yaml"}

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Load reads the connector at p in fsys. p is a connector directory (with
// spec.yml or spec.yaml), the spec.yml of one, or a single-file connector.
// Every problem found is returned; the connector is nil when there are
// errors.
func Load(fsys fs.FS, p string) (*Connector, Diagnostics) {
	return load(fsys, p, "")
}

// load is Load with a default key for a spec without one (the folder name,
// which an fs.FS rooted at the folder cannot tell).
func load(fsys fs.FS, p, keyHint string) (*Connector, Diagnostics) {
	p = path.Clean(p)
	info, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, Diagnostics{Pos{File: p}.Errorf("", "cannot read connector: %s", fsErrorText(err))}
	}
	c := &Connector{FS: fsys}
	if info.IsDir() {
		c.Layout, c.Root = LayoutDirectory, p
		spec, diags := findSpecFile(fsys, p)
		if spec == "" {
			return nil, diags
		}
		c.SpecFile = spec
	} else {
		c.Root, c.SpecFile = path.Dir(p), p
		for _, n := range specFileNames {
			if path.Base(p) == n {
				c.Layout = LayoutDirectory
			}
		}
	}
	l := &loader{c: c, fsys: fsys, keyHint: keyHint}
	l.load()
	l.diags = l.diags.Sort()
	if l.diags.HasErrors() {
		return nil, l.diags
	}
	return c, l.diags
}

// LoadPath loads a connector from the operating system's file system and
// reports file names as they would be written from the current directory.
func LoadPath(osPath string) (*Connector, Diagnostics) {
	fsys, name, display := osFS(osPath)
	hint := ""
	if name == "." {
		if abs, err := filepath.Abs(osPath); err == nil {
			hint = filepath.Base(abs)
		}
	}
	c, diags := load(fsys, name, hint)
	if c != nil {
		c.OSDir = display
	}
	for i := range diags {
		diags[i].File = displayName(display, diags[i].File)
	}
	return c, diags
}

// osFS opens the folder holding osPath (or osPath itself for a directory)
// as an fs.FS that nothing can leave: not a filePath with "..", and not a
// symbolic link pointing outside (os.Root refuses to follow those).
func osFS(osPath string) (fsys fs.FS, name, display string) {
	clean := filepath.Clean(osPath)
	dir, name := filepath.Dir(clean), filepath.Base(clean)
	if info, err := os.Stat(clean); err == nil && info.IsDir() {
		dir, name = clean, "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		// Load reports the error when it tries to read.
		return os.DirFS(dir), name, dir
	}
	return root.FS(), name, dir
}

func displayName(dir, file string) string {
	if file == "." || file == "" {
		return dir
	}
	return filepath.Join(dir, filepath.FromSlash(file))
}

func findSpecFile(fsys fs.FS, dir string) (string, Diagnostics) {
	var found []string
	for _, n := range specFileNames {
		if _, err := fs.Stat(fsys, path.Join(dir, n)); err == nil {
			found = append(found, path.Join(dir, n))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", Diagnostics{Pos{File: dir}.Errorf("", "not a connector: the directory has no spec.yml (or spec.yaml)")}
	}
	return "", Diagnostics{Pos{File: found[1]}.Errorf("", "both %s and %s exist; keep one", path.Base(found[0]), path.Base(found[1]))}
}

// readFile reads a connector file, refusing files over MaxFileSize before
// reading them whole.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil {
		if info.IsDir() {
			return nil, errors.New("is a directory")
		}
		if info.Size() > MaxFileSize {
			return nil, fmt.Errorf("file is %d bytes, larger than the %d MiB limit", info.Size(), MaxFileSize>>20)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than the %d MiB limit", MaxFileSize>>20)
	}
	return data, nil
}

func fsErrorText(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Discover lists the connectors under root: root itself when it is a
// connector (a single file or a directory with spec.yml), otherwise every
// connector directory and .yml/.yaml file below it, recursively. A folder
// that holds auth/ files but no spec.yml is reported.
func Discover(fsys fs.FS, root string) ([]string, Diagnostics) {
	root = path.Clean(root)
	info, err := fs.Stat(fsys, root)
	if err != nil {
		return nil, Diagnostics{Pos{File: root}.Errorf("", "cannot read: %s", fsErrorText(err))}
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var found []string
	var diags Diagnostics
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > 32 {
			return
		}
		if spec, ambiguous := findSpecFile(fsys, dir); spec != "" || ambiguous.HasErrors() && hasSpecFile(fsys, dir) {
			found = append(found, dir) // Load reports an ambiguous spec file
			return
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			diags = append(diags, Pos{File: dir}.Errorf("", "cannot read directory: %s", fsErrorText(err)))
			return
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || name == "node_modules" {
				continue
			}
			full := path.Join(dir, name)
			switch {
			case e.IsDir() && name == "auth":
				diags = append(diags, Pos{File: dir}.Errorf("", "not a connector: the directory has an auth/ folder but no spec.yml (or spec.yaml)"))
			case e.IsDir():
				walk(full, depth+1)
			case strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml"):
				found = append(found, full)
			}
		}
	}
	walk(root, 0)
	if len(found) == 0 && len(diags) == 0 {
		diags = append(diags, Pos{File: root}.Errorf("", "no connector found: no spec.yml and no .yml connector files"))
	}
	return found, diags
}

// DiscoverPath is Discover on the operating system's file system; it returns
// paths usable with LoadPath.
func DiscoverPath(osPath string) ([]string, Diagnostics) {
	fsys, name, display := osFS(osPath)
	found, diags := Discover(fsys, name)
	for i, f := range found {
		found[i] = displayName(display, f)
	}
	for i := range diags {
		diags[i].File = displayName(display, diags[i].File)
	}
	return found, diags
}

func hasSpecFile(fsys fs.FS, dir string) bool {
	for _, n := range specFileNames {
		if _, err := fs.Stat(fsys, path.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}
