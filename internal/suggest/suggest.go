// Package suggest finds the closest known word to a misspelt one, for
// "did you mean" hints in diagnostics.
package suggest

import "strings"

// Closest returns the candidate nearest to word by edit distance, or "" when
// none is close enough to be a plausible typo.
func Closest(word string, candidates []string) string {
	best, bestDist := "", -1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := distance(lw, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Allow roughly one edit per three characters, at least one, at most three.
	limit := len(word) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// Hint formats Closest as a message suffix: "; did you mean X?" or "".
func Hint(word string, candidates []string) string {
	if c := Closest(word, candidates); c != "" && c != word {
		return "; did you mean " + c + "?"
	}
	return ""
}

// distance is the Damerau–Levenshtein (optimal string alignment) distance,
// so that a swapped pair of letters counts as one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Long strings are never typos of short identifiers; avoid quadratic work.
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
