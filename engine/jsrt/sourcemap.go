package jsrt

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// sourceMap maps positions in esbuild's output back to the original file.
// goja can apply source maps itself, but its column lookup is off by one,
// so the (small) decoding is done here.
type sourceMap struct {
	lines   [][]mapping // by generated line, 0-based
	sources []string    // file names, by source index
}

type mapping struct{ genCol, src, line, col int } // all 0-based

// parseSourceMap decodes esbuild's source map of a bundle; the sources'
// names lose esbuild's namespace prefix.
func parseSourceMap(raw []byte) (sourceMap, error) {
	var m struct {
		Sources  []string `json:"sources"`
		Mappings string   `json:"mappings"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return sourceMap{}, err
	}
	sm := sourceMap{lines: [][]mapping{nil}}
	for _, s := range m.Sources {
		sm.sources = append(sm.sources, strings.TrimPrefix(s, nsConnector+":"))
	}
	var (
		genCol, src, line, col int
		fields                 [5]int
		n                      int
		value, shift           int
	)
	flush := func() {
		if n >= 4 {
			genCol += fields[0]
			src += fields[1]
			line += fields[2]
			col += fields[3]
			last := len(sm.lines) - 1
			sm.lines[last] = append(sm.lines[last], mapping{genCol, src, line, col})
		} else if n >= 1 {
			genCol += fields[0]
		}
		n = 0
	}
	for i := 0; i < len(m.Mappings); i++ {
		c := m.Mappings[i]
		switch c {
		case ';':
			flush()
			sm.lines = append(sm.lines, nil)
			genCol = 0
			continue
		case ',':
			flush()
			continue
		}
		d := base64Digit(c)
		if d < 0 {
			return sourceMap{}, errors.New("bad source map")
		}
		value |= (d & 31) << shift
		if d&32 != 0 {
			shift += 5
			if shift > 30 {
				return sourceMap{}, errors.New("bad source map")
			}
			continue
		}
		v := value >> 1
		if value&1 != 0 {
			v = -v
		}
		if n < len(fields) {
			fields[n] = v
		}
		n++
		value, shift = 0, 0
	}
	flush()
	return sm, nil
}

func base64Digit(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

// original maps a 1-based line and column in esbuild's output to the
// original file and 1-based line and column in it.
func (sm sourceMap) original(line, col int) (string, int, int, bool) {
	if line < 1 || line > len(sm.lines) {
		return "", 0, 0, false
	}
	segs := sm.lines[line-1]
	if len(segs) == 0 {
		return "", 0, 0, false
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].genCol > col-1 }) - 1
	if i < 0 {
		i = 0
	}
	file := ""
	if s := segs[i].src; s >= 0 && s < len(sm.sources) {
		file = sm.sources[s]
	}
	return file, segs[i].line + 1, segs[i].col + 1, true
}
