package jsrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// The multi-file layout these tests follow is that of the public connector
// integration-app/pipedrive-connector: src/data/deals/index.ts imports
// { objectCollectionHandler } from '../common' (src/data/common.ts), an
// ES-module relative import without an extension, beside the SDK modules.

func compileIn(t *testing.T, fsys fs.FS, root, file string) (*Program, []Problem) {
	t.Helper()
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		t.Fatal(err)
	}
	return CompileMethodFS(Folder{FS: fsys, Root: root}, file, "makeApiClient", src)
}

func TestImportsResolveLikeNode(t *testing.T) {
	fsys := fstest.MapFS{
		"conn/auth/make-api-client.ts": {Data: []byte(`import { buildHeaders } from './helpers'
import { base } from '../common'
import lib from '../lib'
import { scope } from './scope.js'
import cfg from './config.json'
const { suffix } = require('../cjs/utils.js')
import { ConnectionError } from '@integration-app/sdk'
export default function makeApiClient({ credentials }) {
  return { baseUri: base + suffix(), headers: buildHeaders(credentials), lib: lib(), scope, region: cfg.region, sdk: typeof ConnectionError }
}
`)},
		"conn/auth/helpers.ts":      {Data: []byte("export function buildHeaders(c: any): Record<string, string> {\n  return { Authorization: `Bearer ${c.token}` }\n}\n")},
		"conn/common.js":            {Data: []byte("export const base = 'https://api.example.com'\n")},
		"conn/lib/index.mjs":        {Data: []byte("export default () => 'index'\n")},
		"conn/auth/scope.ts":        {Data: []byte("export const scope: string = 'read'\n")},
		"conn/auth/config.json":     {Data: []byte(`{"region": "eu"}`)},
		"conn/cjs/utils.js":         {Data: []byte("exports.suffix = function () { return '/v2' }\n")},
		"conn/auth/not-imported.js": {Data: []byte("this is not JavaScript at all\n")},
	}
	p, probs := compileIn(t, fsys, "conn", "conn/auth/make-api-client.ts")
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	got, err := p.Call(context.Background(), map[string]any{"credentials": map[string]any{"token": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "map[baseUri:https://api.example.com/v2 headers:map[Authorization:Bearer t1] lib:index region:eu scope:read sdk:function]"
	if fmt.Sprint(got) != want {
		t.Errorf("result = %v\nwant %v", got, want)
	}
}

func TestImportedFileErrorsPointAtThatFile(t *testing.T) {
	fsys := fstest.MapFS{
		"auth/test.js":    {Data: []byte("import { check } from './helpers'\nexport default () => check()\n")},
		"auth/helpers.js": {Data: []byte("\n\nexport function check() {\n  throw new Error('token rejected')\n}\n")},
	}
	p, probs := compileIn(t, fsys, ".", "auth/test.js")
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	_, err := p.Call(context.Background(), nil)
	var je *Error
	if !errors.As(err, &je) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if je.File != "auth/helpers.js" || je.Line != 4 || je.Column != 9 {
		t.Errorf("error at %s:%d:%d, want auth/helpers.js:4:9 (%v)", je.File, je.Line, je.Column, err)
	}
}

func TestImportProblems(t *testing.T) {
	entry := "auth/make-api-client.js"
	tests := []struct {
		name  string
		files fstest.MapFS
		root  string
		// want: file:line:col of the first problem, and a part of its text
		at, contains string
	}{
		{"missing file", fstest.MapFS{entry: {Data: []byte("\nimport { x } from './nope'\nexport default () => x\n")}},
			".", entry + ":2:19", `cannot find "./nope"`},
		{"escape with ..", fstest.MapFS{entry: {Data: []byte("import p from '../../etc/passwd'\nexport default () => p\n")}, "conn/x.js": {Data: []byte("")}},
			".", entry + ":1:15", `"../../etc/passwd" is not allowed: it leaves the connector folder`},
		{"sibling connector", fstest.MapFS{"conn/" + entry: {Data: []byte("import p from '../../other/secret'\nexport default () => p\n")}, "other/secret.js": {Data: []byte("export default 1\n")}},
			"conn", "conn/" + entry + ":1:15", "leaves the connector folder"},
		{"absolute path", fstest.MapFS{entry: {Data: []byte("const p = require('/etc/passwd')\nexport default () => p\n")}},
			".", entry + ":1:19", `"/etc/passwd" is not allowed`},
		{"windows path", fstest.MapFS{entry: {Data: []byte("import p from 'C:/Windows/win.ini'\nexport default () => p\n")}},
			".", entry + ":1:15", `"C:/Windows/win.ini" is not allowed`},
		{"node: scheme", fstest.MapFS{entry: {Data: []byte("import { readFileSync } from 'node:fs'\nexport default () => readFileSync\n")}},
			".", entry + ":1:30", `import of "node:fs" is not allowed`},
		{"bare module", fstest.MapFS{entry: {Data: []byte("import _ from 'lodash'\nexport default () => _\n")}},
			".", entry + ":1:15", `import of "lodash" is not allowed`},
		{"node built-in", fstest.MapFS{entry: {Data: []byte("import { x } from './helpers'\nexport default () => x\n")}, "auth/helpers.js": {Data: []byte("\nconst fs = require('fs')\nexport const x = fs\n")}},
			".", "auth/helpers.js:2:20", `import of "fs" is not allowed`},
		{"cycle", fstest.MapFS{entry: {Data: []byte("import { a } from './a'\nexport default () => a\n")}, "auth/a.js": {Data: []byte("import { b } from './b'\nexport const a = 1\n")}, "auth/b.js": {Data: []byte("import { a } from './a'\nexport const b = 2\n")}},
			".", "auth/b.js:1:19", "makes a cycle: auth/b.js -> auth/a.js -> auth/b.js"},
		{"self import", fstest.MapFS{entry: {Data: []byte("import * as me from './make-api-client'\nexport default () => me\n")}},
			".", entry + ":1:21", "makes a cycle"},
		{"syntax error in helper", fstest.MapFS{entry: {Data: []byte("import { x } from './helpers'\nexport default () => x\n")}, "auth/helpers.ts": {Data: []byte("export const x: number =\n")}},
			".", "auth/helpers.ts:2:1", "Unexpected end of file"},
		{"not a source file", fstest.MapFS{entry: {Data: []byte("import k from './key.pem'\nexport default () => k\n")}, "auth/key.pem": {Data: []byte("canary-private-key")}},
			".", entry + ":1:15", "is not a JavaScript, TypeScript or JSON file"},
		{"symlink out", fstest.MapFS{"conn/" + entry: {Data: []byte("import s from './link'\nexport default () => s\n")}, "conn/auth/link.js": {Data: []byte("../../outside/s.js"), Mode: fs.ModeSymlink}, "outside/s.js": {Data: []byte("export default 1\n")}},
			"conn", "conn/" + entry + ":1:15", "symbolic link out of the connector folder"},
		{"folder symlink out", fstest.MapFS{"conn/" + entry: {Data: []byte("import s from './lib/s'\nexport default () => s\n")}, "conn/auth/lib": {Data: []byte("/outside"), Mode: fs.ModeSymlink}, "outside/s.js": {Data: []byte("export default 1\n")}},
			"conn", "conn/" + entry + ":1:15", "symbolic link out of the connector folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := entry
			if tt.root != "." {
				file = tt.root + "/" + entry
			}
			p, probs := compileIn(t, tt.files, tt.root, file)
			if p != nil || len(probs) == 0 {
				t.Fatal("compiled, want a problem")
			}
			got := probs[0]
			if at := fmt.Sprintf("%s:%d:%d", got.File, got.Line, got.Column); at != tt.at || !strings.Contains(got.Message, tt.contains) {
				t.Errorf("problem = %s: %s\nwant %s containing %q", at, got.Message, tt.at, tt.contains)
			}
			if strings.Contains(got.Message, "canary") {
				t.Errorf("problem quotes the file's content: %s", got.Message)
			}
		})
	}
}

func TestImportSymlinkInsideFolderIsFollowed(t *testing.T) {
	fsys := fstest.MapFS{
		"conn/auth/m.js":    {Data: []byte("import v from './shared'\nexport default () => v\n")},
		"conn/auth/shared":  {Data: []byte("../lib"), Mode: fs.ModeSymlink},
		"conn/lib/index.js": {Data: []byte("export default 'ok'\n")},
	}
	p, probs := compileIn(t, fsys, "conn", "conn/auth/m.js")
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	if got, err := p.Call(context.Background(), nil); err != nil || got != "ok" {
		t.Fatalf("Call = %v, %v", got, err)
	}
}

func TestImportBounds(t *testing.T) {
	t.Run("files", func(t *testing.T) {
		fsys := fstest.MapFS{}
		// A chain of MaxImportFiles+1 files besides the entry.
		fsys["m.js"] = &fstest.MapFile{Data: []byte("import { v } from './f0'\nexport default () => v\n")}
		for i := 0; i <= MaxImportFiles; i++ {
			fsys[fmt.Sprintf("f%d.js", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("export { v } from './f%d'\n", i+1))}
		}
		fsys[fmt.Sprintf("f%d.js", MaxImportFiles+1)] = &fstest.MapFile{Data: []byte("export const v = 1\n")}
		_, probs := compileIn(t, fsys, ".", "m.js")
		if len(probs) == 0 || !strings.Contains(probs[0].Message, fmt.Sprintf("more than %d files", MaxImportFiles)) {
			t.Fatalf("problems = %v, want the file limit", probs)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		big := "export const v = '" + strings.Repeat("x", MaxImportBytes) + "'\n"
		fsys := fstest.MapFS{
			"m.js":   {Data: []byte("import { v } from './big'\nexport default () => v.length\n")},
			"big.js": {Data: []byte(big)},
		}
		_, probs := compileIn(t, fsys, ".", "m.js")
		if len(probs) == 0 || probs[0].File != "m.js" || probs[0].Line != 1 || !strings.Contains(probs[0].Message, "MiB together") {
			t.Fatalf("problems = %v, want the size limit at m.js:1", probs)
		}
	})
}

func TestCompileWithoutFolderRefusesRelativeImports(t *testing.T) {
	_, probs := Compile("m.js", []byte("import { x } from './helpers'\nexport default () => x\n"))
	if len(probs) != 1 || probs[0].File != "m.js" || !strings.Contains(probs[0].Message, "no connector folder") {
		t.Fatalf("problems = %v", probs)
	}
}

func TestImportedFileTopLevelThrowIsPlaced(t *testing.T) {
	fsys := fstest.MapFS{
		"m.ts":         {Data: []byte("import { v } from './lib/setup'\nexport default () => v\n")},
		"lib/setup.ts": {Data: []byte("export const v = 1\n\nthrow new Error('setup failed')\n")},
	}
	_, probs := compileIn(t, fsys, ".", "m.ts")
	if len(probs) != 1 || probs[0].File != "lib/setup.ts" || probs[0].Line != 3 || !strings.Contains(probs[0].Message, "setup failed") {
		t.Fatalf("problems = %v, want lib/setup.ts:3 setup failed", probs)
	}
}
