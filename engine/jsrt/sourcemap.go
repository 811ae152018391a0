package jsrt

import (
	"encoding/json"
	"errors"
	"sort"
)

// sourceMap maps positions in esbuild's output back to the original file.
// goja can apply source maps itself, but its column lookup is off by one,
// so the (small) decoding is done here.
type sourceMap [][]mapping // by generated line, 0-based

type mapping struct{ genCol, line, col int } // all 0-based

func parseSourceMap(raw []byte) (sourceMap, error) {
	var m struct {
		Mappings string `json:"mappings"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	var (
		sm                     = sourceMap{nil}
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
			last := len(sm) - 1
			sm[last] = append(sm[last], mapping{genCol, line, col})
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
			sm = append(sm, nil)
			genCol = 0
			continue
		case ',':
			flush()
			continue
		}
		d := base64Digit(c)
		if d < 0 {
			return nil, errors.New("bad source map")
		}
		value |= (d & 31) << shift
		if d&32 != 0 {
			shift += 5
			if shift > 30 {
				return nil, errors.New("bad source map")
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
	_ = src
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

// original maps a 1-based line and column in esbuild's output to 1-based
// ones in the original source.
func (sm sourceMap) original(line, col int) (int, int, bool) {
	if line < 1 || line > len(sm) {
		return 0, 0, false
	}
	segs := sm[line-1]
	if len(segs) == 0 {
		return 0, 0, false
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].genCol > col-1 }) - 1
	if i < 0 {
		i = 0
	}
	return segs[i].line + 1, segs[i].col + 1, true
}
